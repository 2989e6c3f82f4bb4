/**
 * Word swap (AttentionReplace): the replacement mapper A [K, K], where A[w, n] is the weight with which source
 * token w feeds target token n. The edit reads the target's cross-attention as source_map @ A.
 */
import { UserError } from '../../engine/errors.js';
import { splitWords, tokensOfWords, type EditTokenizer } from './words.js';

export interface ReplaceOptions {
  /**
   * Reproduce the reference's tail bug: after the last swapped word it writes A[j, j] instead of A[i, j], so when
   * the swapped words changed the token count, every later token (and EOS) reads the wrong source column.
   * Off by default; only useful for bit-exact comparisons with the reference.
   */
  referenceTailBug?: boolean;
}

/** One swapped word: its source and target token positions. */
interface SwappedWord {
  source: number[];
  target: number[];
}

function swappedWords(source: string, target: string, tokenizer: EditTokenizer): SwappedWord[] {
  const sourceWords = splitWords(source);
  const targetWords = splitWords(target);
  if (sourceWords.length !== targetWords.length) {
    throw new UserError(
      'bad_prompt',
      `A word swap needs prompts with the same number of words: “${source}” has ${sourceWords.length}, “${target}” has ${targetWords.length}.`,
    );
  }
  const swapped: SwappedWord[] = [];
  sourceWords.forEach((word, k) => {
    if (word !== targetWords[k]) {
      swapped.push({ source: tokensOfWords(source, [k], tokenizer), target: tokensOfWords(target, [k], tokenizer) });
    }
  });
  return swapped;
}

/**
 * The replacement mapper of one edit, row-major [K, K] (K = tokenizer.maxLength). Tokens before, between and
 * after the swapped words map one to one in order; a swapped word whose token count is unchanged maps pairwise;
 * otherwise every source token of the word feeds every target token with weight 1/(target token count), so a
 * 1→k swap spreads each source row over k columns and a k→1 swap sums k source tokens into one.
 */
export function replacementMapper(source: string, target: string, tokenizer: EditTokenizer, options: ReplaceOptions = {}): Float32Array {
  const size = tokenizer.maxLength;
  const mapper = new Float32Array(size * size);
  const swapped = swappedWords(source, target, tokenizer);
  let i = 0; // source token position
  let j = 0; // target token position
  let next = 0; // index of the next swapped word
  while (i < size && j < size) {
    const word = swapped[next];
    if (word && word.source[0] === i) {
      if (word.source.length === word.target.length) {
        word.source.forEach((s, r) => (mapper[s * size + word.target[r]] = 1));
      } else {
        for (const s of word.source) for (const t of word.target) mapper[s * size + t] = 1 / word.target.length;
      }
      i += word.source.length;
      j += word.target.length;
      next++;
    } else {
      const row = !word && options.referenceTailBug ? j : i;
      mapper[row * size + j] = 1;
      i++;
      j++;
    }
  }
  return mapper;
}
