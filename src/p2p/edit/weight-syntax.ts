/**
 * The `(words:weight)` syntax of the edit language. A group whose content ends in `:number` weights the words
 * inside it; any other parenthesised text is kept literally (prompts may contain parentheses). Brackets must
 * balance and weighted groups cannot nest.
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
/** Innermost parenthesised groups (no parentheses inside). */
const GROUP = /\(([^()]*)\)/gu;
const NESTED_WEIGHT = /:\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)\s*\)/u;
/** Private-use characters that mark where a weighted group's words start and end while spaces are normalised. */
const GROUP_START = '\u{E000}';
const GROUP_END = '\u{E001}';

function checkBrackets(text: string): void {
  let depth = 0;
  for (const ch of text) {
    if (ch === '(') depth++;
    else if (ch === ')' && --depth < 0) {
      throw new UserError('bad_prompt', `Unbalanced brackets in “${text}”: a “)” has no matching “(”.`);
    }
  }
  if (depth > 0) throw new UserError('bad_prompt', `Unbalanced brackets in “${text}”: ${depth === 1 ? 'a “(” is' : `${depth} “(” are`} never closed.`);
}

/** Parses `label:weight` group content, or returns undefined for a literal group (no colon). */
function parseGroup(content: string): { label: string; weight: number } | undefined {
  const colon = content.lastIndexOf(':');
  if (colon < 0) return undefined;
  const label = normalizeSpaces(content.slice(0, colon));
  const weightText = content.slice(colon + 1).trim();
  if (label.length === 0) throw new UserError('bad_prompt', `“(${content})” names no word: write (word:weight), e.g. (smiling:1.5).`);
  if (!NUMBER.test(weightText)) {
    throw new UserError('bad_prompt', `The weight in “(${content})” is not a number: write (word:weight), e.g. (smiling:1.5).`);
  }
  const weight = Number(weightText);
  checkWordWeight(label, weight);
  return { label, weight };
}

/** Splits `text` into words and the weights of its `(words:weight)` groups. */
export function parseWeightedText(text: string): WeightedText {
  checkBrackets(text);
  const groups: { label: string; weight: number }[] = [];
  const marked = text.replace(GROUP, (whole, content: string) => {
    const group = parseGroup(content);
    if (!group) return whole;
    groups.push(group);
    return `${GROUP_START}${group.label}${GROUP_END}`;
  });
  // Only innermost groups were parsed, so a weight still followed by ")" belonged to a group around a group.
  if (NESTED_WEIGHT.test(marked)) throw new UserError('bad_prompt', `Weights cannot be nested: “${text}”. Give each word one (word:weight).`);
  const words: string[] = [];
  const covered: number[][] = groups.map(() => []);
  let open = -1;
  let next = 0;
  for (const raw of normalizeSpaces(marked).split(' ').filter(Boolean)) {
    const index = words.length;
    if (open >= 0) covered[open].push(index);
    for (const ch of raw) {
      if (ch === GROUP_START) covered[(open = next++)].push(index);
      else if (ch === GROUP_END) open = -1;
    }
    words.push(raw.replaceAll(GROUP_START, '').replaceAll(GROUP_END, ''));
  }
  const weights = groups.map((g, k) => ({ text: g.label, weight: g.weight, wordIndices: [...new Set(covered[k])] }));
  return { words, weights };
}

