/**
 * Editing an edited image: the second edit is written against the image the user sees (the first edit's target),
 * but Prompt-to-Prompt edits the original source, so the two are composed into one edit of the source.
 *
 * The composition works on parsed edits: the second edit is parsed against the first one's target, the first
 * edit's weights follow the words they weighted (dropped where the second edit replaced them), its blend and cross
 * words are renamed by the second edit's swaps (`dog→wolf` turns `blend: cat dog` into `blend: cat wolf`), and the
 * second edit's own weights and clauses are added. The result is then written in the edit language: as chained
 * swaps when both edits are swaps (`cat→dog` then `dog→wolf` gives `cat→wolf`), otherwise as the whole new prompt
 * with its weights, and only a text that parses back to exactly the composed edit is returned. A whole new prompt
 * as the second edit replaces the first edit.
 */
import { UserError } from '../../engine/errors.js';
import { parseEdit, resolveEdit, type EditRequest, type ParsedEdit, type Resolved, type Swap } from './language.js';
import { windowFractions, type StepWindow } from './schedule.js';
import { parseWeightedText } from './weight-syntax.js';
import { findPhrase, phraseWordIndices, splitWords } from './words.js';

/** What an edit does, position by position: comparable across different ways of writing it. */
interface Outcome {
  words: string[];
  /** The weight of each target word (a later weight wins, as in the equalizer), or null. */
  weights: (number | null)[];
  /** Which weight entry set each word's weight (to write runs of one entry as one group). */
  weightEntry: number[];
  blend: string[];
  cross: [string, StepWindow][];
}

function wordWeights(edit: ParsedEdit, words: readonly string[]): { weights: (number | null)[]; entry: number[] } {
  const weights: (number | null)[] = words.map(() => null);
  const entry = words.map(() => -1);
  edit.weights.forEach((w, k) => {
    for (const i of w.wordIndices ?? phraseWordIndices(edit.target, w.text)) {
      weights[i] = w.weight;
      entry[i] = k;
    }
  });
  return { weights, entry };
}

/** The outcome of an edit as parsed (for comparing a written composition with the intended one). */
function outcomeOf(edit: ParsedEdit): Outcome {
  const words = splitWords(edit.target);
  const { weights, entry } = wordWeights(edit, words);
  return {
    words,
    weights,
    weightEntry: entry,
    blend: [...new Set(edit.blend?.words ?? [])],
    cross: (edit.perWordCross ?? []).map(({ text, window }) => [text, window]),
  };
}

const sameOutcome = (a: Outcome, b: Outcome): boolean =>
  a.words.length === b.words.length &&
  a.words.every((w, i) => w === b.words[i]) &&
  a.weights.every((w, i) => w === b.weights[i]) &&
  JSON.stringify([...a.blend].sort()) === JSON.stringify([...b.blend].sort()) &&
  JSON.stringify(a.cross) === JSON.stringify(b.cross);

/** A clause word after the second edit: renamed to a swap's new words when the swap replaces exactly that word. */
function renamed(word: string, swaps: readonly Swap[]): string[] {
  const swap = swaps.find((s) => findPhrase([word], s.from.split(' ')).length > 0 && !s.from.includes(' '));
  return swap ? parseWeightedText(swap.to).words : [word];
}

/** The intended outcome of `second` applied to the image of `first`, in the source's terms. */
function composedOutcome(first: Resolved, second: Resolved): Outcome {
  const words = splitWords(second.parsed.target);
  const before = wordWeights(first.parsed, splitWords(first.parsed.target));
  const after = wordWeights(second.parsed, words);
  const weights: (number | null)[] = words.map(() => null);
  const weightEntry = words.map(() => -1);
  const entries = first.parsed.weights.length;
  second.kept.forEach((from, i) => {
    if (from >= 0 && before.weights[from] !== null) [weights[i], weightEntry[i]] = [before.weights[from], before.entry[from]];
  });
  after.weights.forEach((w, i) => {
    if (w !== null) [weights[i], weightEntry[i]] = [w, entries + after.entry[i]];
  });
  const swaps = second.parts.body.kind === 'swaps' ? second.parts.body.swaps : [];
  const blend = [...new Set([...(first.parsed.blend?.words ?? []).flatMap((w) => renamed(w, swaps)), ...(second.parsed.blend?.words ?? [])])];
  const cross = new Map<string, StepWindow>();
  for (const { text, window } of first.parsed.perWordCross ?? []) for (const w of renamed(text, swaps)) cross.set(w, window);
  for (const { text, window } of second.parsed.perWordCross ?? []) cross.set(text, window);
  return { words, weights, weightEntry, blend, cross: [...cross] };
}

/** A number as the edit language reads it (no exponent). */
function formatNumber(n: number): string {
  const text = String(n);
  return /e/iu.test(text) ? n.toFixed(20).replace(/\.?0+$/u, '') : text;
}

function formatClauses(outcome: Outcome): string {
  let text = '';
  if (outcome.blend.length > 0) text += `; blend: ${outcome.blend.join(' ')}`;
  if (outcome.cross.length > 0) {
    const items = outcome.cross.map(([w, window]) => {
      const [start, end] = windowFractions(window, `cross-attention window of “${w}”`, 'bad_prompt');
      return `${w}=${typeof window === 'number' ? formatNumber(end) : `${formatNumber(start)}-${formatNumber(end)}`}`;
    });
    text += `; cross: ${items.join(', ')}`;
  }
  return text;
}

/** The whole target prompt with `(words:weight)` groups, one per run of words weighted by the same entry. */
function asPrompt(outcome: Outcome): string {
  const parts: string[] = [];
  for (let i = 0; i < outcome.words.length; ) {
    const weight = outcome.weights[i];
    if (weight === null) {
      parts.push(outcome.words[i++]);
      continue;
    }
    let end = i + 1;
    while (end < outcome.words.length && outcome.weights[end] === weight && outcome.weightEntry[end] === outcome.weightEntry[i]) end++;
    parts.push(`(${outcome.words.slice(i, end).join(' ')}:${formatNumber(weight)})`);
    i = end;
  }
  return parts.join(' ');
}

/** The first edit's swaps with the second's chained on: a swap of a word the first edit put there rewrites that swap. */
function asChainedSwaps(first: readonly Swap[], second: readonly Swap[]): string {
  const chained = first.map((s) => ({ ...s }));
  for (const swap of second) {
    const previous = chained.find((p) => {
      const to = parseWeightedText(p.to).words;
      return to.length === swap.from.split(' ').length && findPhrase(to, swap.from.split(' ')).length > 0;
    });
    if (previous) previous.to = swap.to;
    else chained.push({ ...swap });
  }
  return chained.map((s) => `${s.from}→${s.to}`).join(', ');
}

/** The outcome of a written edit, or undefined when it does not parse. */
function tryOutcome(request: EditRequest): Outcome | undefined {
  try {
    return outcomeOf(parseEdit(request));
  } catch {
    return undefined;
  }
}

/**
 * `next`, written against the image that `previous` made, as one edit of `previous.source` (weights and blend words
 * of `previous` are folded into the text). Throws UserError('bad_prompt') when `next` does not fit that image, or
 * when the composition cannot be written in the edit language.
 */
export function composeEdits(previous: EditRequest, next: string): string {
  const first = resolveEdit(previous);
  const second = resolveEdit({ source: first.parsed.target, edit: next });
  if (second.parts.body.kind === 'text' && second.kept.every((k) => k < 0)) return next;
  const intended = composedOutcome(first, second);
  const candidates: string[] = [];
  if (first.parts.body.kind === 'swaps' && second.parts.body.kind === 'swaps') {
    candidates.push(asChainedSwaps(first.parts.body.swaps, second.parts.body.swaps));
  }
  candidates.push(asPrompt(intended));
  for (const body of candidates) {
    const text = body + formatClauses(intended);
    const written = tryOutcome({ source: previous.source, edit: text });
    if (written && sameOutcome(written, intended)) return text;
  }
  const target = intended.words.join(' ');
  if (target.toLowerCase() === first.parsed.source.toLowerCase() && intended.weights.every((w) => w === null)) {
    throw new UserError('bad_prompt', `Together with the earlier edit, “${next}” gives back the original prompt “${first.parsed.source}”: there is nothing left to edit.`);
  }
  throw new UserError(
    'bad_prompt',
    `“${next}” cannot be combined with the earlier edit into one edit of the original prompt “${first.parsed.source}” (its words use the edit language's own characters): edit the original image with the whole new prompt instead.`,
  );
}
