/**
 * Refinement (AttentionRefine): a global alignment of the source and target token ids tells, for every target
 * token, which source token it copies attention from, or that it is new (alpha 0: it keeps its own attention).
 */
import type { EditTokenizer } from './words.js';

/** The reference's alignment scores (seq_aligner.ScoreParams(gap=0, match=1, mismatch=-1)). */
const GAP = 0;
const MATCH = 1;
const MISMATCH = -1;

/** Traceback moves; on a score tie the first of left, up, diagonal wins. */
const Move = {
  Left: 1, // target token inserted
  Up: 2, // source token dropped
  Diagonal: 3, // tokens aligned
  Stop: 4,
} as const;

/**
 * Needleman–Wunsch alignment of token sequences `source` and `target`. Returns, for every target position, the
 * aligned source position or -1 for an inserted token. With gap 0 a mismatch never wins, so every aligned pair is
 * an exact match (a longest common subsequence, with the reference's tie-breaking).
 */
export function alignTokens(source: readonly number[], target: readonly number[]): number[] {
  const rows = source.length + 1;
  const cols = target.length + 1;
  const score = new Int32Array(rows * cols);
  const move = new Uint8Array(rows * cols);
  for (let j = 1; j < cols; j++) move[j] = Move.Left;
  for (let i = 1; i < rows; i++) move[i * cols] = Move.Up;
  move[0] = Move.Stop;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const left = score[i * cols + j - 1] + GAP;
      const up = score[(i - 1) * cols + j] + GAP;
      const diagonal = score[(i - 1) * cols + j - 1] + (source[i - 1] === target[j - 1] ? MATCH : MISMATCH);
      const best = Math.max(left, up, diagonal);
      score[i * cols + j] = best;
      move[i * cols + j] = best === left ? Move.Left : best === up ? Move.Up : Move.Diagonal;
    }
  }
  const aligned = new Array<number>(target.length);
  let i = source.length;
  let j = target.length;
  while (i > 0 || j > 0) {
    const m = move[i * cols + j];
    if (m === Move.Stop) break;
    if (m === Move.Diagonal) aligned[--j] = --i;
    else if (m === Move.Left) aligned[--j] = -1;
    else i--;
  }
  return aligned;
}

export interface RefinementMapping {
  /** [K]: the source position each target position reads, -1 for inserted tokens; identity past the target's end. */
  mapper: Int32Array;
  /** [K]: 1 where the target token copies the source's attention, 0 for inserted tokens; 1 past the target's end. */
  alphas: Float32Array;
}

/**
 * The token ids the text encoder really sees: BOS, at most K − 2 content tokens, EOS. The reference aligns the
 * untruncated ids and fails past 77 tokens; aligning what the model sees is the same below the limit.
 */
function contextIds(text: string, tokenizer: EditTokenizer): number[] {
  const ids = tokenizer.encode(text);
  const k = tokenizer.maxLength;
  return ids.length <= k ? ids : [...ids.slice(0, k - 1), ids[ids.length - 1]];
}

export function refinementMapper(source: string, target: string, tokenizer: EditTokenizer): RefinementMapping {
  const size = tokenizer.maxLength;
  const aligned = alignTokens(contextIds(source, tokenizer), contextIds(target, tokenizer));
  const mapper = new Int32Array(size);
  const alphas = new Float32Array(size);
  for (let k = 0; k < size; k++) {
    mapper[k] = k < aligned.length ? aligned[k] : k;
    alphas[k] = mapper[k] === -1 ? 0 : 1;
  }
  return { mapper, alphas };
}
