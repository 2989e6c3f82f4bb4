/**
 * Re-weighting (AttentionReweight): the equalizer E [K] scales the target's cross-attention columns inside the
 * cross-replacement window (no renormalisation, so negative weights push a concept away).
 *
 * Semantics follow the null-text notebook: each word has its own weight, E is indexed in the EDIT prompt's token
 * space, a word names every token it spans. The stable notebook and the diffusers pipeline instead assign one value
 * vector to all selected words, which broadcasts wrongly (or fails) as soon as two words have different weights;
 * we do not reproduce that.
 */
import { UserError } from '../../engine/errors.js';
import { normalizeSpaces, phraseWordIndices, tokensOfWords, type EditTokenizer } from './words.js';

/** The largest |weight| accepted; the paper's examples stay within ±10. */
export const MAX_WORD_WEIGHT = 10;

export interface WordWeight {
  /** The word or phrase as the user wrote it (for messages). */
  text: string;
  weight: number;
  /** Word indices in the target prompt; when absent, every occurrence of `text` in the target is weighted. */
  wordIndices?: number[];
}

export function checkWordWeight(text: string, weight: number): void {
  if (!Number.isFinite(weight) || Math.abs(weight) > MAX_WORD_WEIGHT) {
    throw new UserError('bad_prompt', `The weight of “${text}” is ${weight}; weights must be numbers between -${MAX_WORD_WEIGHT} and ${MAX_WORD_WEIGHT}.`);
  }
}

/** The word indices a weight applies to in `target`, or a UserError naming the missing word. */
function weightedWordIndices(target: string, weight: WordWeight): number[] {
  if (weight.wordIndices) return weight.wordIndices;
  const found = phraseWordIndices(target, weight.text);
  if (found.length === 0) {
    throw new UserError('bad_prompt', `“${normalizeSpaces(weight.text)}” is not in the prompt “${target}”, so it cannot be weighted.`);
  }
  return found;
}

/** E [K]: ones, with each weighted word's tokens set to its weight (a later word wins where two overlap). */
export function buildEqualizer(target: string, weights: readonly WordWeight[], tokenizer: EditTokenizer): Float32Array {
  const equalizer = new Float32Array(tokenizer.maxLength).fill(1);
  for (const w of weights) {
    checkWordWeight(w.text, w.weight);
    for (const position of tokensOfWords(target, weightedWordIndices(target, w), tokenizer)) equalizer[position] = w.weight;
  }
  return equalizer;
}
