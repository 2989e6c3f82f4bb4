/**
 * The edit language: what a user types to turn the source prompt into the target prompt.
 *
 *   edit      = body { ";" clause }                 segments split on ";"; a segment that is not a clause is body
 *   body      = swaps | prompt | weights | ""       "" only when weights are given some other way
 *   weights   = weight { weight }                    only weighted groups: weights on the source prompt itself
 *   swaps     = swap { ("," | ";") swap }            applied together to the source, never to each other's output;
 *                                                   empty items (`cat→dog,` `cat→dog;;`) are ignored
 *   swap      = phrase arrow phrase                  arrow = "→" | "->"; "red car→blue truck" swaps word sequences
 *   prompt    = the full new prompt (no arrow)
 *   weight    = "(" words ":" number ")"            anywhere in the target side, |number| ≤ 10, negative allowed
 *   clause    = "blend:" word { [","] word }         local blending: regions of these words (source or target) may change
 *             | "cross:" item { [","] item }         per-word cross-attention window, words of the target
 *   item      = word "=" window;  window = f | f "-" f   fractions of the run, e.g. lion=0.4, sky=0.2-0.6
 *
 * Empty ";" segments at either end of a full prompt are dropped too. An edit is at most MAX_EDIT_LENGTH characters,
 * and no text of it may hold control, private-use or broken characters (engine/prompt-text.ts).
 *
 * Words are matched case-insensitively and without punctuation at their ends ("Cat" matches "cat,"); a swap keeps
 * the punctuation around the word it replaces and replaces every occurrence. Parentheses without ":number" are
 * literal text. The mode follows from the result: the same prompt (only weights) re-weights, the same number of
 * words swaps (the replacement mapper), anything else refines (token alignment).
 *
 * Examples: `cat→dog`, `cat -> dog, red→blue`, `red car→blue truck`, `a (fluffy:2) cat riding a red bicycle`,
 * `(smiling:3)` (re-weights the source's own words), `cat→dog; blend: cat dog; cross: dog=0.4`.
 */
import { UserError } from '../../engine/errors.js';
import { checkPromptCharacters } from '../../engine/prompt-text.js';
import { checkWordWeight, type WordWeight } from './equalizer.js';
import { windowFractions, type StepWindow } from './schedule.js';
import { parseWeightedText } from './weight-syntax.js';
import { findPhrase, normalizeSpaces, phraseWordIndices, splitWords } from './words.js';

export type EditMode = 'replace' | 'refine' | 'reweight';

export interface ParsedEdit {
  /** The source prompt, whitespace-normalised (token ids unchanged). */
  source: string;
  /** The target prompt with the weight syntax removed. */
  target: string;
  /** replace: same word count (swap); refine: words added or removed (alignment); reweight: the same prompt. */
  mode: EditMode;
  /** Word weights in the target prompt, applied on top of `mode` (an equalizer). */
  weights: WordWeight[];
  /** Local blending: indices of the blend words in the source and in the target (each list may be empty, not both). */
  blend?: { words: string[]; sourceWords: number[]; targetWords: number[] };
  /** Words of the target with their own cross-attention window. */
  perWordCross?: { text: string; wordIndices: number[]; window: StepWindow }[];
}

export interface EditRequest {
  /** The source image's prompt. */
  source: string;
  /** The edit in the language above. */
  edit: string;
  /** Extra weights (the same as `(word:w)` in the edit); a word weights every occurrence in the target. */
  weights?: readonly { word: string; weight: number }[];
  /** Extra local-blend words (the same as a `blend:` clause). */
  blend?: readonly string[];
  /** Extra per-word cross windows (the same as a `cross:` clause). */
  perWordCross?: Readonly<Record<string, StepWindow>>;
}

/** The longest edit text accepted, in characters (the bot takes 1,000; CLIP reads 75 tokens of the result anyway). */
export const MAX_EDIT_LENGTH = 2000;

const ARROW = /→|->/u;
const CLAUSE = /^\s*(blend|cross)\s*:(.*)$/isu;

/** True when the text is written as swaps (`old→new`), not as a whole prompt. */
export const isSwapEdit = (edit: string): boolean => ARROW.test(edit);

const bad = (message: string): UserError => new UserError('bad_prompt', message);

export interface Swap {
  from: string;
  /** The new words as written, weights included. */
  to: string;
}

/** An edit split into its parts, before any word is looked up. */
export interface EditParts {
  /** `a→b` swaps, or a body without arrows (a full prompt, weights only, or ""). */
  body: { kind: 'swaps'; swaps: Swap[] } | { kind: 'text'; text: string };
  blend: string[];
  cross: [string, StepWindow][];
}

function splitParts(edit: string): EditParts {
  const body: string[] = [];
  const parts: EditParts = { body: { kind: 'text', text: '' }, blend: [], cross: [] };
  for (const segment of edit.split(';')) {
    const clause = CLAUSE.exec(segment);
    if (!clause) body.push(segment);
    else if (clause[1].toLowerCase() === 'blend') parts.blend.push(...parseBlendWords(clause[2]));
    else parts.cross.push(...parseCrossItems(clause[2]));
  }
  if (body.some((segment) => ARROW.test(segment))) {
    const items = body.flatMap((segment) => segment.split(',')).filter((item) => item.trim().length > 0);
    parts.body = { kind: 'swaps', swaps: items.map(splitSwap) };
  } else {
    while (body.length > 0 && body[body.length - 1].trim() === '') body.pop();
    while (body.length > 0 && body[0].trim() === '') body.shift();
    parts.body = { kind: 'text', text: normalizeSpaces(body.join(';')) };
  }
  return parts;
}

function splitSwap(item: string): Swap {
  const sides = item.split(ARROW);
  if (sides.length !== 2) {
    throw bad(sides.length === 1 ? `“${item.trim()}” has no arrow: write each swap as old→new, separated by commas.` : `“${item.trim()}” has more than one arrow: write each swap as old→new.`);
  }
  const from = normalizeSpaces(sides[0]);
  if (from.length === 0 || sides[1].trim().length === 0) {
    throw bad(`“${item.trim()}” needs words on both sides of the arrow (old→new); to remove words, write the full new prompt.`);
  }
  if (/[()]/u.test(from)) throw bad(`Weights go on the new words, after the arrow: “${item.trim()}”.`);
  return { from, to: normalizeSpaces(sides[1]) };
}

function parseBlendWords(text: string): string[] {
  const words = text.split(/[\s,]+/u).filter(Boolean);
  if (words.length === 0) throw bad('“blend:” needs the words whose region may change, e.g. “blend: cat dog”.');
  return words;
}

function parseCrossItems(text: string): [string, StepWindow][] {
  const items = text.split(/[\s,]+/u).filter(Boolean);
  if (items.length === 0) throw bad('“cross:” needs word=window items, e.g. “cross: lion=0.4, sky=0.2-0.6”.');
  return items.map((item) => {
    const match = /^([^=]+)=(\d*\.?\d+)(?:-(\d*\.?\d+))?$/u.exec(item);
    if (!match) throw bad(`“${item}” is not a cross window: write word=fraction or word=start-end, e.g. lion=0.4 or sky=0.2-0.6.`);
    const window: StepWindow = match[3] === undefined ? Number(match[2]) : [Number(match[2]), Number(match[3])];
    windowFractions(window, `cross-attention window of “${match[1]}”`, 'bad_prompt');
    return [match[1], window];
  });
}

/** A swap's target words with the punctuation around the replaced source words carried over. */
function withAffixes(sourceWords: readonly string[], replacement: readonly string[]): string[] {
  const lead = /^[^\p{L}\p{N}]*/u.exec(sourceWords[0])![0];
  const tail = /[^\p{L}\p{N}]*$/u.exec(sourceWords[sourceWords.length - 1])![0];
  const hasCore = (w: string): boolean => /[\p{L}\p{N}]/u.test(w);
  const out = [...replacement];
  if (hasCore(sourceWords[0])) out[0] = lead + out[0];
  if (hasCore(sourceWords[sourceWords.length - 1])) out[out.length - 1] += tail;
  return out;
}

interface Target {
  words: string[];
  weights: WordWeight[];
  /** For each target word, the index of the source word it keeps unchanged, or -1 for a new word. */
  kept: number[];
}

/** Applies every `a→b` swap to the source words at once; each left side must occur in the source. */
function applySwaps(source: string, swaps: readonly Swap[]): Target {
  const sourceWords = splitWords(source);
  const replacements = new Map<number, { length: number; words: string[]; weights: WordWeight[] }>();
  const taken = new Set<number>();
  for (const swap of swaps) {
    const fromWords = swap.from.split(' ');
    const starts = findPhrase(sourceWords, fromWords);
    if (starts.length === 0) throw bad(`“${swap.from}” is not in the prompt “${source}”.`);
    const to = parseWeightedText(swap.to);
    if (to.words.length === 0) throw bad(`“${swap.from}→${swap.to}” needs words on both sides of the arrow (old→new); to remove words, write the full new prompt.`);
    for (const start of starts) {
      for (let k = start; k < start + fromWords.length; k++) {
        if (taken.has(k)) throw bad(`Two swaps change the same word “${sourceWords[k]}” of “${source}”.`);
        taken.add(k);
      }
      replacements.set(start, { length: fromWords.length, words: withAffixes(sourceWords.slice(start, start + fromWords.length), to.words), weights: to.weights });
    }
  }
  const target: Target = { words: [], weights: [], kept: [] };
  for (let i = 0; i < sourceWords.length; ) {
    const swap = replacements.get(i);
    if (!swap) {
      target.words.push(sourceWords[i]);
      target.kept.push(i++);
      continue;
    }
    const offset = target.words.length;
    target.words.push(...swap.words);
    target.kept.push(...swap.words.map(() => -1));
    target.weights.push(...swap.weights.map((w) => ({ ...w, wordIndices: w.wordIndices?.map((k) => k + offset) })));
    i += swap.length;
  }
  return target;
}

function resolveBlend(source: string, target: string, words: readonly string[]): ParsedEdit['blend'] {
  if (words.length === 0) return undefined;
  const blend = { words: [...words], sourceWords: [] as number[], targetWords: [] as number[] };
  for (const word of words) {
    const inSource = phraseWordIndices(source, word);
    const inTarget = phraseWordIndices(target, word);
    if (inSource.length === 0 && inTarget.length === 0) {
      throw bad(`The blend word “${word}” is in neither the prompt “${source}” nor the edited prompt “${target}”.`);
    }
    blend.sourceWords.push(...inSource);
    blend.targetWords.push(...inTarget);
  }
  return blend;
}

function resolvePerWordCross(target: string, entries: readonly [string, StepWindow][]): ParsedEdit['perWordCross'] {
  if (entries.length === 0) return undefined;
  return entries.map(([text, window]) => {
    const wordIndices = phraseWordIndices(target, text);
    if (wordIndices.length === 0) throw bad(`“${text}” has a cross window but is not in the edited prompt “${target}”.`);
    windowFractions(window, `cross-attention window of “${text}”`, 'bad_prompt');
    return { text, wordIndices, window };
  });
}

/**
 * A body without arrows: the full new prompt, or, when every word sits in a weighted group, weights on the
 * source's own words (`(smiling:3)`), which must then occur in the source. An empty body keeps the source.
 */
function promptOrWeights(source: string, body: string): Target {
  const { words, weights } = parseWeightedText(body);
  const weighted = new Set(weights.flatMap((w) => w.wordIndices));
  if (words.length > 0 && weighted.size < words.length) return { words, weights, kept: words.map(() => -1) };
  for (const w of weights) {
    if (phraseWordIndices(source, w.text).length === 0) throw bad(`“${w.text}” is not in the prompt “${source}”, so it cannot be weighted.`);
  }
  const sourceWords = splitWords(source);
  return { words: sourceWords, weights: weights.map(({ text, weight }) => ({ text, weight })), kept: sourceWords.map((_, i) => i) };
}

/** The same prompt (the tokenizer lower-cases) re-weights, the same word count swaps, anything else refines. */
function editMode(source: string, target: Target): EditMode {
  const sourceWords = splitWords(source);
  const same = sourceWords.length === target.words.length && sourceWords.every((w, i) => w.toLowerCase() === target.words[i].toLowerCase());
  if (!same) return sourceWords.length === target.words.length ? 'replace' : 'refine';
  if (target.weights.length === 0) throw bad(`The edit leaves the prompt “${source}” unchanged: change a word or add (word:weight).`);
  return 'reweight';
}

/** Everything user-written in a request, checked for characters no prompt may hold, before any other work. */
function checkRequestText(request: EditRequest): void {
  if (request.edit.length > MAX_EDIT_LENGTH) {
    throw bad(`The edit is ${request.edit.length} characters long: the limit is ${MAX_EDIT_LENGTH}. Shorten it, or write fewer weights.`);
  }
  checkPromptCharacters('source prompt', request.source);
  checkPromptCharacters('edit', request.edit);
  for (const w of request.weights ?? []) checkPromptCharacters('weighted word', w.word);
  for (const word of request.blend ?? []) checkPromptCharacters('blend word', word);
  for (const word of Object.keys(request.perWordCross ?? {})) checkPromptCharacters('cross-window word', word);
}

/** A parsed edit, with what composing (compose.ts) needs: its parts and which source word each target word keeps. */
export interface Resolved {
  parsed: ParsedEdit;
  parts: EditParts;
  kept: number[];
}

/** parseEdit with the parts and the kept-word map (compose.ts). */
export function resolveEdit(request: EditRequest): Resolved {
  checkRequestText(request);
  const source = normalizeSpaces(request.source);
  if (source.length === 0) throw bad('The source prompt is empty, so there is nothing to edit.');
  const parts = splitParts(request.edit);
  const extraWeights: WordWeight[] = (request.weights ?? []).map((w) => ({ text: w.word, weight: w.weight }));
  if (parts.body.kind === 'text' && parts.body.text.length === 0 && extraWeights.length === 0) {
    throw bad('The edit is empty: write a swap such as “cat→dog”, the full new prompt, or (word:weight) weights.');
  }
  for (const w of extraWeights) checkWordWeight(w.text, w.weight);

  const resolved = parts.body.kind === 'swaps' ? applySwaps(source, parts.body.swaps) : promptOrWeights(source, parts.body.text);
  resolved.weights.push(...extraWeights);
  const target = resolved.words.join(' ');
  for (const w of extraWeights) {
    if (phraseWordIndices(target, w.text).length === 0) throw bad(`“${w.text}” is not in the edited prompt “${target}”, so it cannot be weighted.`);
  }
  const edit: ParsedEdit = { source, target, mode: editMode(source, resolved), weights: resolved.weights };
  const blend = resolveBlend(source, target, [...parts.blend, ...(request.blend ?? [])]);
  if (blend) edit.blend = blend;
  const perWordCross = resolvePerWordCross(target, [...parts.cross, ...Object.entries(request.perWordCross ?? {})]);
  if (perWordCross) edit.perWordCross = perWordCross;
  return { parsed: edit, parts, kept: resolved.kept };
}

/** Parses an edit request into a typed edit, or throws UserError('bad_prompt') saying what is wrong. */
export function parseEdit(request: EditRequest): ParsedEdit {
  return resolveEdit(request).parsed;
}
