/** Word indices, replacement / refinement mappers and the equalizer, against the reference and §11 invariants. */
import { describe, expect, test } from '@jest/globals';
import { UserError } from '../src/engine/errors.js';
import { readNpy, readNpyFloat32 } from '../src/engine/npy.js';
import { buildEqualizer } from '../src/p2p/edit/equalizer.js';
import { alignTokens, refinementMapper } from '../src/p2p/edit/refine.js';
import { replacementMapper } from '../src/p2p/edit/replace.js';
import { getWordInds, wordTokenSpans } from '../src/p2p/edit/words.js';
import { referencePath } from './helpers.js';
import { loadTokenizer } from './p2p-helpers.js';

const K = 77;
const at = (a: Float32Array, w: number, n: number): number => a[w * K + n];
const nonZero = (a: Float32Array): [number, number, number][] => {
  const out: [number, number, number][] = [];
  a.forEach((v, i) => v !== 0 && out.push([Math.floor(i / K), i % K, v]));
  return out;
};
const identity = (): Float32Array => Float32Array.from({ length: K * K }, (_, i) => (Math.floor(i / K) === i % K ? 1 : 0));

describe('get_word_inds', () => {
  test('every occurrence of a word, or a word index, +1 for BOS (invariant 23)', async () => {
    const tok = await loadTokenizer();
    expect(getWordInds('a squirrel eating a burger', 'a', tok)).toEqual([1, 4]);
    expect(getWordInds('a squirrel eating a burger', 1, tok)).toEqual([2]);
    expect(getWordInds('a squirrel eating a burger', 'burger', tok)).toEqual([5]);
    expect(getWordInds('a squirrel eating a burger', 'A', tok)).toEqual([]); // case-sensitive, like the reference
  });

  test('a multi-token word gets consecutive positions', async () => {
    const tok = await loadTokenizer();
    expect(tok.encode('croutons').length - 2).toBe(3);
    expect(getWordInds('pea soup with croutons', 'croutons', tok)).toEqual([4, 5, 6]);
    expect(wordTokenSpans("don't stop believin'", tok)).toEqual([[1, 2], [3], [4, 5, 6]]);
  });
});

describe('replacement mapper', () => {
  test('replace_cat_dog: the reference mapper (identity)', async () => {
    const tok = await loadTokenizer();
    const ref = readNpyFloat32(referencePath('p2p/replace_cat_dog_mapper.npy'));
    expect(ref.shape).toEqual([1, K, K]);
    expect(replacementMapper('a cat riding a bicycle', 'a dog riding a bicycle', tok)).toEqual(ref.data);
  });

  test('identical prompts and equal-token swaps give the identity (invariants 4, 5)', async () => {
    const tok = await loadTokenizer();
    expect(replacementMapper('a photo of a house', 'a photo of a house', tok)).toEqual(identity());
    const swap = replacementMapper('a cat eating a burger', 'a dog eating a pizza', tok);
    expect(swap).toEqual(identity());
    expect(replacementMapper('a cat eating a burger', 'a dog eating a pizza', tok, { referenceTailBug: true })).toEqual(identity());
  });

  test('1→2 tokens: the source row spreads 0.5/0.5 and the tail is the shifted diagonal (invariant 6)', async () => {
    const tok = await loadTokenizer();
    expect(getWordInds('a lasagne eating a burger', 'lasagne', tok)).toEqual([2, 3]);
    const fixed = replacementMapper('a cat eating a burger', 'a lasagne eating a burger', tok);
    expect(at(fixed, 2, 2)).toBe(0.5);
    expect(at(fixed, 2, 3)).toBe(0.5);
    // after the swap, source i feeds target i + 1 (eating 3→4, a 4→5, burger 5→6, EOS 6→7, …, 75→76)
    const expected: [number, number, number][] = [[0, 0, 1], [1, 1, 1], [2, 2, 0.5], [2, 3, 0.5]];
    for (let i = 3; i < K - 1; i++) expected.push([i, i + 1, 1]);
    expect(nonZero(fixed)).toEqual(expected);
  });

  test('referenceTailBug reproduces A[j, j] after the swap (source "eating" dropped)', async () => {
    const tok = await loadTokenizer();
    const bug = replacementMapper('a cat eating a burger', 'a lasagne eating a burger', tok, { referenceTailBug: true });
    const expected: [number, number, number][] = [[0, 0, 1], [1, 1, 1], [2, 2, 0.5], [2, 3, 0.5]];
    for (let j = 4; j < K; j++) expected.push([j, j, 1]);
    expect(nonZero(bug)).toEqual(expected);
    expect(bug.slice(3 * K, 4 * K).every((v) => v === 0)).toBe(true);
  });

  test('2→1 tokens: the target column receives both source tokens', async () => {
    const tok = await loadTokenizer();
    const a = replacementMapper('a lasagne eating', 'a cat eating', tok);
    expect(at(a, 2, 2)).toBe(1);
    expect(at(a, 3, 2)).toBe(1);
    expect(at(a, 4, 3)).toBe(1); // "eating" keeps its source
    let column2 = 0;
    for (let w = 0; w < K; w++) column2 += at(a, w, 2);
    expect(column2).toBe(2);
  });

  test('different word counts are a UserError (invariant 7)', async () => {
    const tok = await loadTokenizer();
    expect(() => replacementMapper('a cat', 'a big cat', tok)).toThrow(UserError);
    expect(() => replacementMapper('a cat', 'a big cat', tok)).toThrow(/same number of words/);
  });
});

describe('refinement mapper', () => {
  test('refine_cat: the reference mapper and alphas', async () => {
    const tok = await loadTokenizer();
    const refMapper = readNpy(referencePath('p2p/refine_cat_mapper.npy'));
    const refAlphas = readNpyFloat32(referencePath('p2p/refine_cat_refine_alphas.npy'));
    const { mapper, alphas } = refinementMapper('a cat riding a bicycle', 'a fluffy cat riding a red bicycle', tok);
    expect(Array.from(mapper)).toEqual(Array.from(refMapper.data as BigInt64Array, Number));
    expect(alphas).toEqual(refAlphas.data);
  });

  test('identical prompts: mapper 0..76, alphas 1 (invariant 8)', async () => {
    const tok = await loadTokenizer();
    const { mapper, alphas } = refinementMapper('a photo of a house on a mountain', 'a photo of a house on a mountain', tok);
    expect(Array.from(mapper)).toEqual(Array.from({ length: K }, (_, k) => k));
    expect(Array.from(alphas)).toEqual(new Array(K).fill(1));
  });

  test('pure insertion (invariant 9)', async () => {
    const tok = await loadTokenizer();
    const target = 'pea soup with croutons';
    const n = tok.encode(target).length; // BOS pea soup with cr out ons EOS = 8
    const { mapper, alphas } = refinementMapper('soup', target, tok);
    const inserted = Array.from(alphas.slice(0, n)).flatMap((a, k) => (a === 0 ? [k] : []));
    expect(inserted).toEqual([1, 3, 4, 5, 6]);
    const mapped = Array.from(mapper.slice(0, n)).filter((m) => m >= 0);
    expect(mapped).toEqual([0, 1, 2]); // strictly increasing: BOS, soup, EOS
    expect(mapper[n - 1]).toBe(2); // EOS → source EOS
    for (let k = n; k < K; k++) expect([mapper[k], alphas[k]]).toEqual([k, 1]);
  });

  test('tie-break left → up → diag: "a b a" → "a a b a" inserts target position 2 (invariant 10)', async () => {
    const tok = await loadTokenizer();
    const { mapper, alphas } = refinementMapper('a b a', 'a a b a', tok);
    expect(Array.from(mapper.slice(0, 6))).toEqual([0, 1, -1, 2, 3, 4]);
    expect(Array.from(alphas.slice(0, 6))).toEqual([1, 1, 0, 1, 1, 1]);
  });

  test('deletion: the documented mapper of "a red car" → "a car"', async () => {
    const tok = await loadTokenizer();
    const { mapper, alphas } = refinementMapper('a red car', 'a car', tok);
    expect(Array.from(mapper.slice(0, 7))).toEqual([0, 1, 3, 4, 4, 5, 6]);
    expect(alphas.every((a) => a === 1)).toBe(true);
  });

  test('the alignment itself on toy ids: every aligned pair is a match', () => {
    expect(alignTokens([5, 6, 7], [5, 9, 7])).toEqual([0, -1, 2]);
    expect(alignTokens([1, 2], [])).toEqual([]);
    expect(alignTokens([], [1, 2])).toEqual([-1, -1]);
  });
});

describe('equalizer', () => {
  test('reweight_cat: the reference equalizer', async () => {
    const tok = await loadTokenizer();
    const ref = readNpyFloat32(referencePath('p2p/reweight_cat_equalizer.npy'));
    expect(buildEqualizer('a cat riding a bicycle', [{ text: 'cat', weight: 4 }], tok)).toEqual(ref.data);
  });

  test('several words, each with its own (negative allowed) weight over all its tokens', async () => {
    const tok = await loadTokenizer();
    const e = buildEqualizer('pea soup with croutons', [{ text: 'croutons', weight: 3 }, { text: 'pea', weight: -1 }], tok);
    const expected = new Float32Array(K).fill(1);
    expected.set([-1], 1);
    expected.set([3, 3, 3], 4);
    expect(e).toEqual(expected);
  });

  test('explicit word indices weight only that occurrence', async () => {
    const tok = await loadTokenizer();
    const e = buildEqualizer('a cat and a cat', [{ text: 'cat', weight: 2, wordIndices: [4] }], tok);
    expect([e[2], e[5]]).toEqual([1, 2]);
  });

  test('weights beyond ±10 and missing words are UserErrors', async () => {
    const tok = await loadTokenizer();
    expect(() => buildEqualizer('a cat', [{ text: 'cat', weight: 11 }], tok)).toThrow(/between -10 and 10/);
    expect(() => buildEqualizer('a cat', [{ text: 'cat', weight: -10.5 }], tok)).toThrow(UserError);
    expect(() => buildEqualizer('a cat', [{ text: 'dog', weight: 2 }], tok)).toThrow(/“dog” is not in the prompt “a cat”/);
  });
});
