/**
 * The `(words:weight)` syntax of the edit language. A group whose content ends in `:number` weights the words
 * inside it; any other parenthesised text is kept literally (prompts may contain parentheses), and a literal group
 * may hold weighted ones and the other way round. Brackets must balance, weighted groups cannot nest, and a word
 * takes at most one weight (`(dog:2)(lion:3)` would weight the one word "doglion" twice).
 *
 * One pass over the text, so the time is linear in its length whatever the groups look like.
 */
import { UserError } from '../../engine/errors.js';
import { checkWordWeight, type WordWeight } from './equalizer.js';
import { normalizeSpaces } from './words.js';

export interface WeightedText {
  /** The text with the weight syntax removed, whitespace-normalised. */
  words: string[];
  /** One entry per weighted group; `wordIndices` index into `words`. */
  weights: (WordWeight & { wordIndices: number[] })[];
}

const NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)$/u;

const bad = (message: string): UserError => new UserError('bad_prompt', message);

/** An open "(": where it is in the text and in the output, and what its content holds so far. */
interface Frame {
  /** Index of the "(" in the text (for messages). */
  at: number;
  /** Index of the "(" in the output. */
  out: number;
  /** Output index of the last ":" directly inside this group (not inside a nested one), or -1. */
  colon: number;
  /** A nested group (of any kind) closed after that colon: the weight cannot be a number. */
  groupAfterColon: boolean;
  /** A nested weighted group: this group cannot be weighted too. */
  weightedInside: boolean;
}

/** A weighted group: output indices [start, end) of its words. */
interface Group {
  start: number;
  end: number;
  label: string;
  weight: number;
  /** The group as written (for messages). */
  written: string;
}

function unbalanced(text: string, open: number): UserError {
  const what = open === 1 ? 'a “(” is' : `${open} “(” are`;
  return bad(`Unbalanced brackets in “${text}”: ${what} never closed.`);
}

/** Closes the innermost group at text index `at`: a weighted group is recorded and its syntax dropped. */
function closeGroup(text: string, at: number, frame: Frame, out: string[], groups: Group[]): boolean {
  if (frame.colon < 0) {
    out.push(')');
    return false;
  }
  const written = text.slice(frame.at, at + 1);
  const content = written.slice(1, -1);
  if (frame.weightedInside) throw bad(`Weights cannot be nested: “${written}”. Give each word one (word:weight).`);
  const weightText = frame.groupAfterColon ? '' : out.slice(frame.colon + 1).join('').trim();
  const label = normalizeSpaces(out.slice(frame.out + 1, frame.colon).join(''));
  if (label.length === 0) throw bad(`“(${content})” names no word: write (word:weight), e.g. (smiling:1.5).`);
  if (!NUMBER.test(weightText)) throw bad(`The weight in “(${content})” is not a number: write (word:weight), e.g. (smiling:1.5).`);
  const weight = Number(weightText);
  checkWordWeight(label, weight);
  out.length = frame.colon;
  out[frame.out] = '';
  groups.push({ start: frame.out, end: frame.colon, label, weight, written });
  return true;
}

/** Splits `text` into words and the weights of its `(words:weight)` groups. */
export function parseWeightedText(text: string): WeightedText {
  // One output slot per character of the text, so group ranges stay valid while later text is appended.
  const out: string[] = [];
  const stack: Frame[] = [];
  const groups: Group[] = [];
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    const top = stack[stack.length - 1];
    if (ch === '(') {
      stack.push({ at: i, out: out.length, colon: -1, groupAfterColon: false, weightedInside: false });
      out.push(ch);
    } else if (ch === ')') {
      if (!top) throw bad(`Unbalanced brackets in “${text}”: a “)” has no matching “(”.`);
      stack.pop();
      const weighted = closeGroup(text, i, top, out, groups);
      const parent = stack[stack.length - 1];
      if (parent) {
        if (parent.colon >= 0) parent.groupAfterColon = true;
        if (weighted) parent.weightedInside = true;
      }
    } else {
      if (ch === ':' && top) top.colon = out.length;
      out.push(ch);
    }
  }
  if (stack.length > 0) throw unbalanced(text, stack.length);
  return wordsOf(out, groups);
}

/** The words of the output and the word indices of each group; a word in two groups is an error. */
function wordsOf(out: readonly string[], groups: readonly Group[]): WeightedText {
  const wordAt = new Int32Array(out.length).fill(-1);
  const words: string[] = [];
  let current = '';
  for (let k = 0; k < out.length; k++) {
    if (out[k] === '') continue; // a weighted group's dropped "("
    if (/\s/u.test(out[k])) {
      if (current.length > 0) words.push(current);
      current = '';
      continue;
    }
    wordAt[k] = words.length;
    current += out[k];
  }
  if (current.length > 0) words.push(current);
  const owner = new Int32Array(words.length).fill(-1);
  const weights = groups.map((g, index) => {
    const wordIndices: number[] = [];
    for (let k = g.start; k < g.end; k++) {
      const w = wordAt[k];
      if (w < 0 || wordIndices[wordIndices.length - 1] === w) continue;
      if (owner[w] >= 0 && owner[w] !== index) {
        throw bad(`“${words[w]}” would get two weights, from “${groups[owner[w]].written}” and “${g.written}”: put a space between weighted groups.`);
      }
      owner[w] = index;
      wordIndices.push(w);
    }
    return { text: g.label, weight: g.weight, wordIndices };
  });
  return { words, weights };
}
