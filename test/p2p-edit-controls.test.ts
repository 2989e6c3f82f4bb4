/**
 * The per-call controls: running the graph's formula out = src @ W + P ⊙ D on random maps must reproduce the
 * reference's edit formulas (§2.3, §3.3, §4.2 with the α blend of §1.6), computed here directly.
 */
import { describe, expect, test } from '@jest/globals';
import { blendRowTokens, buildEditPlan, controlsForCall, type CallControls, type EditPlan } from '../src/p2p/edit/controls.js';
import { buildEqualizer } from '../src/p2p/edit/equalizer.js';
import { parseEdit, type ParsedEdit } from '../src/p2p/edit/language.js';
import { editMapping } from '../src/p2p/edit/mapping.js';
import { refinementMapper } from '../src/p2p/edit/refine.js';
import { replacementMapper } from '../src/p2p/edit/replace.js';
import { alphaRow, replacedSelfLayers } from '../src/p2p/edit/schedule.js';
import type { ClipTokenizer } from '../src/engine/tokenizer.js';
import { maxAbsDiff } from './helpers.js';
import { loadTokenizer, randomArray, sdAttentionLayers, seededRandom } from './p2p-helpers.js';

const K = 77;
const H = 2;
const Q = 3;
const MAP = H * Q * K;
const SOURCE = 'a cat riding a bicycle';
const STEPS = 10;
/** Default window 0.8 → rows 0–7; "riding" 0.2 → rows 0–1. Call 4 mixes replaced and own columns. */
const CROSS = { default_: 0.8, riding: 0.2 };
const MIXED_CALL = 4;

/** The patched graph's cross layer: out_b = Concat([P, ext])[source_b] @ W_b + P_b ⊙ D_b. */
function graphCross(batch: Float32Array, c: CallControls, ext?: Float32Array): Float32Array {
  if (!c.crossOn) return batch.slice();
  const all = ext ? Float32Array.from([...batch, ...ext]) : batch;
  const n = batch.length / MAP;
  const out = new Float32Array(batch.length);
  for (let b = 0; b < n; b++) {
    const src = all.subarray(Number(c.sourceIndex[b]) * MAP, (Number(c.sourceIndex[b]) + 1) * MAP);
    const w = c.crossWeight.subarray(b * K * K, (b + 1) * K * K);
    for (let hq = 0; hq < H * Q; hq++) {
      for (let col = 0; col < K; col++) {
        let sum = 0;
        for (let t = 0; t < K; t++) sum += src[hq * K + t] * w[t * K + col];
        out[b * MAP + hq * K + col] = sum + batch[b * MAP + hq * K + col] * c.crossKeep[b * K + col];
      }
    }
  }
  return out;
}

/** R of each rule, straight from the reference's description; M0 = source map, Mb = the row's own map. */
type Rule = (m0: Float32Array, mb: Float32Array) => Float32Array;
const perEntry = (f: (hq: number, n: number) => number): Float32Array => Float32Array.from({ length: MAP }, (_, i) => f(Math.floor(i / K), i % K));
const replaceRule = (a: Float32Array): Rule => (m0) => perEntry((hq, n) => {
  let s = 0;
  for (let w = 0; w < K; w++) s += m0[hq * K + w] * a[w * K + n];
  return s;
});
const refineRule = (mapper: Int32Array, alphas: Float32Array): Rule => (m0, mb) =>
  // torch gathers index −1 as the last column (its alpha is 0)
  perEntry((hq, n) => m0[hq * K + (mapper[n] < 0 ? K + mapper[n] : mapper[n])] * alphas[n] + mb[hq * K + n] * (1 - alphas[n]));
const reweightRule = (equalizer: Float32Array, prev: Rule = (m0) => m0): Rule => (m0, mb) => {
  const base = prev(m0, mb);
  return perEntry((hq, n) => base[hq * K + n] * equalizer[n]);
};
/** §1.6: attn[1:] = R ⊙ α + Mb ⊙ (1 − α). */
const blendInTime = (r: Float32Array, mb: Float32Array, alpha: Float32Array): Float32Array => perEntry((hq, n) => r[hq * K + n] * alpha[n] + mb[hq * K + n] * (1 - alpha[n]));

/** Runs one call with CFG and checks: uncond rows and the source row unchanged, each edit row = its rule. */
function checkCall(plan: EditPlan, rules: Rule[], call: number, seed: number): void {
  const rows = rules.length + 1;
  const batch = randomArray(2 * rows * MAP, seededRandom(seed));
  const controls = controlsForCall(plan, { index: call, cfg: true, rows, uncondRows: [...Array(rows).keys()], batch: 2 * rows, latentHeight: 32, latentWidth: 32 }, []);
  const out = graphCross(batch, controls);
  const row = (a: Float32Array, r: number): Float32Array => a.subarray(r * MAP, (r + 1) * MAP);
  for (let r = 0; r <= rows; r++) expect(row(out, r)).toEqual(row(batch, r)); // uncond rows and the cond source
  rules.forEach((rule, e) => {
    const m0 = row(batch, rows);
    const mb = row(batch, rows + 1 + e);
    const expected = blendInTime(rule(m0, mb), mb, alphaRow(plan.edits[e].alpha, K, call));
    expect(maxAbsDiff(row(out, rows + 1 + e), expected)).toBeLessThan(1e-6);
  });
}

async function setup(edits: string[]): Promise<{ tok: ClipTokenizer; parsed: ParsedEdit[]; plan: EditPlan }> {
  const tok = await loadTokenizer();
  const parsed = edits.map((edit) => parseEdit({ source: SOURCE, edit }));
  return { tok, parsed, plan: buildEditPlan(parsed, tok, { steps: STEPS, cross: CROSS }) };
}

describe('controls reproduce the reference formulas', () => {
  test('replace (a 1→2-token swap, so A is not the identity)', async () => {
    const { tok, parsed, plan } = await setup(['cat→lasagne']);
    expect(parsed[0].mode).toBe('replace');
    const rule = replaceRule(replacementMapper(SOURCE, parsed[0].target, tok));
    for (const call of [0, MIXED_CALL, 9]) checkCall(plan, [rule], call, 10 + call);
  });

  test('refine', async () => {
    const { tok, parsed, plan } = await setup(['a fluffy cat riding a red bicycle']);
    expect(parsed[0].mode).toBe('refine');
    const { mapper, alphas } = refinementMapper(SOURCE, parsed[0].target, tok);
    for (const call of [0, MIXED_CALL]) checkCall(plan, [refineRule(mapper, alphas)], call, 20 + call);
  });

  test('reweight', async () => {
    const { tok, parsed, plan } = await setup(['(cat:4) (bicycle:-1)']);
    expect(parsed[0].mode).toBe('reweight');
    const rule = reweightRule(buildEqualizer(SOURCE, parsed[0].weights, tok));
    for (const call of [0, MIXED_CALL]) checkCall(plan, [rule], call, 30 + call);
  });

  test('reweight on refine and on replace', async () => {
    const { tok, parsed, plan } = await setup(['a (fluffy:3) cat riding a (red:-2) bicycle', 'cat→(lasagne:2)']);
    const { mapper, alphas } = refinementMapper(SOURCE, parsed[0].target, tok);
    const onRefine = reweightRule(buildEqualizer(parsed[0].target, parsed[0].weights, tok), refineRule(mapper, alphas));
    const onReplace = reweightRule(buildEqualizer(parsed[1].target, parsed[1].weights, tok), replaceRule(replacementMapper(SOURCE, parsed[1].target, tok)));
    for (const call of [0, MIXED_CALL]) checkCall(plan, [onRefine, onReplace], call, 40 + call);
  });

  test('without CFG the batch is the cond rows only', async () => {
    const { tok, parsed, plan } = await setup(['cat→lasagne']);
    const batch = randomArray(2 * MAP, seededRandom(7));
    const controls = controlsForCall(plan, { index: 0, cfg: false, rows: 2, uncondRows: [], batch: 2, latentHeight: 32, latentWidth: 32 }, []);
    expect(Array.from(controls.sourceIndex, Number)).toEqual([0, 0]);
    const out = graphCross(batch, controls);
    const expected = replaceRule(replacementMapper(SOURCE, parsed[0].target, tok))(batch.subarray(0, MAP), batch.subarray(MAP));
    expect(out.subarray(0, MAP)).toEqual(batch.subarray(0, MAP));
    expect(maxAbsDiff(out.subarray(MAP), expected)).toBeLessThan(1e-6);
  });

  test('a re-edit (source from the store as external row N) gives the same edit rows', async () => {
    const { plan } = await setup(['a (fluffy:3) cat riding a red bicycle']);
    const full = randomArray(4 * MAP, seededRandom(8)); // [u-src, u-edit, c-src, c-edit]
    const inBatch = graphCross(full, controlsForCall(plan, { index: MIXED_CALL, cfg: true, rows: 2, uncondRows: [0, 1], batch: 4, latentHeight: 32, latentWidth: 32 }, []));
    const editsOnly = Float32Array.from([...full.subarray(MAP, 2 * MAP), ...full.subarray(3 * MAP)]);
    const controls = controlsForCall(plan, { index: MIXED_CALL, cfg: true, rows: 1, uncondRows: [0], batch: 2, latentHeight: 32, latentWidth: 32 }, [], { sourceInBatch: false });
    expect(Array.from(controls.sourceIndex, Number)).toEqual([0, 2]);
    const reEdit = graphCross(editsOnly, controls, full.subarray(2 * MAP, 3 * MAP));
    expect(reEdit.subarray(MAP)).toEqual(inBatch.subarray(3 * MAP));
    expect(reEdit.subarray(0, MAP)).toEqual(full.subarray(MAP, 2 * MAP));
  });
});

describe('control invariants', () => {
  test('outside every window: cross and self off, W = 0, D = 1 (invariants 3, 13)', async () => {
    const tok = await loadTokenizer();
    const plan = buildEditPlan(parseEdit({ source: SOURCE, edit: 'cat→(dog:5)' }), tok, { steps: STEPS, cross: 0, self: 0 });
    for (let call = 0; call <= STEPS; call++) {
      const c = controlsForCall(plan, { index: call, cfg: true, rows: 2, uncondRows: [0, 1], batch: 4, latentHeight: 32, latentWidth: 32 }, sdAttentionLayers());
      expect(c.crossOn).toBe(false);
      expect(c.crossWeight.every((v) => v === 0)).toBe(true);
      expect(c.crossKeep.every((v) => v === 1)).toBe(true);
      expect(c.selfOn.every((v) => v === 0)).toBe(true);
    }
  });

  test('equalizer of ones: reweight copies the source, reweight on a mapping equals the mapping (invariants 11, 12)', async () => {
    const tok = await loadTokenizer();
    const ones = editMapping(parseEdit({ source: SOURCE, edit: '(cat:1)' }), tok);
    expect(ones.fromSource).toEqual(editMapping({ source: SOURCE, target: SOURCE, mode: 'replace', weights: [] }, tok).fromSource);
    expect(ones.fromOwn.every((v) => v === 0)).toBe(true);
    const plain = editMapping(parseEdit({ source: SOURCE, edit: 'a fluffy cat riding a bicycle' }), tok);
    const weighted = editMapping(parseEdit({ source: SOURCE, edit: 'a fluffy (cat:1) riding a bicycle' }), tok);
    expect([weighted.fromSource, weighted.fromOwn]).toEqual([plain.fromSource, plain.fromOwn]);
  });

  test('identical prompts map every token to itself (invariant 2)', async () => {
    const tok = await loadTokenizer();
    const same: ParsedEdit = { source: SOURCE, target: SOURCE, mode: 'replace', weights: [] };
    const identity = Float32Array.from({ length: K * K }, (_, i) => (Math.floor(i / K) === i % K ? 1 : 0));
    expect(editMapping(same, tok).fromSource).toEqual(identity);
    expect(editMapping({ ...same, mode: 'refine' }, tok).fromSource).toEqual(identity);
  });

  test('self layers: on inside the window for the thresholded layers, rows = cond edit rows', async () => {
    const tok = await loadTokenizer();
    const layers = sdAttentionLayers();
    const plan = buildEditPlan(parseEdit({ source: SOURCE, edit: 'cat→dog' }), tok, { steps: 50, self: 0.4 });
    for (const call of [0, 19, 20, 50]) {
      const c = controlsForCall(plan, { index: call, cfg: true, rows: 2, uncondRows: [0, 1], batch: 4, latentHeight: 64, latentWidth: 64 }, layers);
      const inWindow = call < 20;
      expect(Array.from(c.selfOn)).toEqual(replacedSelfLayers(layers, { minLevel: 2 }, 64, 64).map((on) => (on && inWindow ? 1 : 0)));
      expect(Array.from(c.selfRows)).toEqual([0, 0, 0, inWindow ? 1 : 0]);
      expect(Array.from(c.sourceIndex, Number)).toEqual([0, 1, 2, 2]);
    }
    expect(controlsForCall(plan, { index: 0, cfg: true, rows: 2, uncondRows: [0, 1], batch: 4, latentHeight: 64, latentWidth: 64 }, layers).selfOn.filter(Boolean).length).toBe(6);
  });

  test('a batch that does not fit the plan is refused', async () => {
    const { plan } = await setup(['cat→dog']);
    expect(() => controlsForCall(plan, { index: 0, cfg: true, rows: 3, uncondRows: [0, 1, 2], batch: 6, latentHeight: 32, latentWidth: 32 }, [])).toThrow(/shape mismatch/);
    expect(() => controlsForCall(plan, { index: 0, cfg: true, rows: 2, uncondRows: [0, 1], batch: 2, latentHeight: 32, latentWidth: 32 }, [])).toThrow(/shape mismatch/);
  });

  test('LocalBlend tokens per prompt row from the edits’ blend words', async () => {
    const tok = await loadTokenizer();
    const edits = [parseEdit({ source: SOURCE, edit: 'cat→lasagne; blend: cat lasagne' }), parseEdit({ source: SOURCE, edit: 'bicycle→horse; blend: horse' })];
    expect(blendRowTokens(buildEditPlan(edits, tok, { steps: STEPS }), tok)).toEqual([[2], [2, 3], [5]]);
    expect(blendRowTokens(buildEditPlan(edits[0], tok, { steps: STEPS }), tok)).toEqual([[2], [2, 3]]);
    expect(blendRowTokens(buildEditPlan(parseEdit({ source: SOURCE, edit: 'cat→dog' }), tok, { steps: STEPS }), tok)).toBeUndefined();
  });
});
