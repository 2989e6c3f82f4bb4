/**
 * The edits of the attention-control contract on the tiny UNet, in both layouts: self-attention replacement,
 * the cross-attention mapping out = src·W + P ⊙ D, and replaying an edit against external source rows.
 */
import { describe, expect, test } from '@jest/globals';
import { Tensor } from 'onnxruntime-node';
import { P2P_INPUT, extInputName, probsOutputName } from '../src/p2p/graph/contract.js';
import { maxAbsDiff } from './helpers.js';
import {
  LAYOUTS,
  TEXT_LENGTH,
  allLayers,
  bools,
  captureAll,
  controls,
  identity,
  int64s,
  patchedAndOriginal,
  perRowConstants,
  perRowMatrices,
  probsOutputs,
  row,
  unetInputs,
} from './p2p-graph-helpers.js';

const LATENT = 16;
const zero = (): number => 0;

describe.each(LAYOUTS)('attention edits, $layout layout', ({ path }) => {
  const fx = patchedAndOriginal('p2p-graph-edits', () => ({ patchPath: path, original: path }));

  const layersOf = (kind: 'self' | 'cross') => fx.patched.meta.layers.filter((l) => l.kind === kind);

  test('self replacement gives the chosen rows their source row’s self-attention and leaves the source alone', async () => {
    const { meta, session } = fx.patched;
    const inputs = unetInputs([51, 52], LATENT);
    const edits = {
      ...captureAll(meta, [0, 1]),
      [P2P_INPUT.sourceIndex]: int64s([0, 0]),
      [P2P_INPUT.selfOn]: allLayers(meta),
      [P2P_INPUT.selfRows]: bools([false, true]),
    };
    const out = await session.run({ ...inputs, ...controls(meta, 2, edits) }, ['out_sample', ...probsOutputs(meta)]);
    for (const layer of layersOf('self')) {
      const probs = out[probsOutputName(layer.index)];
      expect(maxAbsDiff(row(probs, 1), row(probs, 0))).toBe(0);
    }
    await expectRowUnchanged(out.out_sample, inputs, 0);
  });

  test('cross edit with W = identity, D = 0 copies the source row’s cross-attention', async () => {
    const { meta, session } = fx.patched;
    const edits = {
      ...captureAll(meta, [0, 1]),
      [P2P_INPUT.sourceIndex]: int64s([0, 0]),
      [P2P_INPUT.crossOn]: new Tensor('bool', Uint8Array.of(1), []),
      [P2P_INPUT.crossWeight]: perRowMatrices([identity, identity]),
      [P2P_INPUT.crossKeep]: perRowConstants([0, 0]),
    };
    const inputs = unetInputs([61, 62], LATENT);
    const out = await session.run({ ...inputs, ...controls(meta, 2, edits) }, ['out_sample', ...probsOutputs(meta)]);
    for (const layer of layersOf('cross')) {
      const probs = out[probsOutputName(layer.index)];
      expect(maxAbsDiff(row(probs, 1), row(probs, 0))).toBeLessThan(1e-6);
    }
    await expectRowUnchanged(out.out_sample, inputs, 0);
  });

  test('cross edit with W = 0, D = 2 doubles the row’s own cross-attention', async () => {
    const { meta, session } = fx.patched;
    const inputs = unetInputs([71, 72], LATENT);
    const neutral = await session.run({ ...inputs, ...controls(meta, 2, captureAll(meta, [1])) }, probsOutputs(meta));
    const edits = {
      ...captureAll(meta, [1]),
      [P2P_INPUT.crossOn]: new Tensor('bool', Uint8Array.of(1), []),
      [P2P_INPUT.crossWeight]: perRowMatrices([identity, zero]),
      [P2P_INPUT.crossKeep]: perRowConstants([0, 2]),
    };
    const edited = await session.run({ ...inputs, ...controls(meta, 2, edits) }, probsOutputs(meta));
    // The first cross layer sees the same hidden states as without the edit, so it must be exactly 2× them.
    const first = probsOutputName(layersOf('cross')[0].index);
    const doubled = (neutral[first].data as Float32Array).map((p) => 2 * p);
    expect(maxAbsDiff(edited[first].data as Float32Array, doubled)).toBeLessThan(1e-6);
    // Deeper layers see edited hidden states, but each of their rows is still 2× a softmax row: it sums to 2.
    for (const layer of layersOf('cross')) {
      const data = edited[probsOutputName(layer.index)].data as Float32Array;
      for (let start = 0; start < data.length; start += TEXT_LENGTH) {
        const sum = data.subarray(start, start + TEXT_LENGTH).reduce((a, b) => a + b, 0);
        expect(Math.abs(sum - 2)).toBeLessThan(1e-5);
      }
    }
  });

  test('an edit replayed against captured source rows (p2p_ext) reproduces the batched edit', async () => {
    const { meta, session } = fx.patched;
    const swap = (i: number, j: number): number => 0.5 * (i === 2 ? +(j === 5) : i === 5 ? +(j === 2) : +(i === j));
    const editControls = (batch: number, weight: Tensor, keep: Tensor, selfRows: boolean[], sources: number[]) => ({
      [P2P_INPUT.sourceIndex]: int64s(sources),
      [P2P_INPUT.crossOn]: new Tensor('bool', Uint8Array.of(1), []),
      [P2P_INPUT.crossWeight]: weight,
      [P2P_INPUT.crossKeep]: keep,
      [P2P_INPUT.selfOn]: allLayers(meta),
      [P2P_INPUT.selfRows]: bools(selfRows),
      ...(batch === 2 ? captureAll(meta, [0]) : {}),
    });
    // Source prompt a and edit prompt b together; row 0 is left as it is (W = I, D = 0) and its maps captured.
    const together = await session.run(
      { ...unetInputs([81, 82], LATENT), ...controls(meta, 2, editControls(2, perRowMatrices([identity, swap]), perRowConstants([0, 0.5]), [false, true], [0, 0])) },
      ['out_sample', ...probsOutputs(meta)],
    );
    // Edit prompt b alone, reading its source rows from the capture: row 1 of Concat([P, ext]) is the external row.
    const external = Object.fromEntries(meta.layers.map((l) => [extInputName(l.index), together[probsOutputName(l.index)]]));
    const alone = await session.run(
      { ...unetInputs([82], LATENT), ...controls(meta, 1, { ...editControls(1, perRowMatrices([swap]), perRowConstants([0.5]), [true], [1]), ...external }) },
      ['out_sample'],
    );
    expect(maxAbsDiff(row(alone.out_sample, 0), row(together.out_sample, 1))).toBeLessThan(1e-5);
    // …and the edit did change row 1, so the agreement above is not just batch independence.
    const plain = (await fx.original.run(unetInputs([81, 82], LATENT))).out_sample;
    expect(maxAbsDiff(row(together.out_sample, 1), row(plain, 1))).toBeGreaterThan(1e-3);
  });

  /** Row `r` of a patched run equals the unpatched UNet's row `r` (batch rows never mix). */
  async function expectRowUnchanged(outSample: Tensor, inputs: Record<string, Tensor>, r: number): Promise<void> {
    const plain = (await fx.original.run(inputs)).out_sample;
    expect(maxAbsDiff(row(outSample, r), row(plain, r))).toBeLessThanOrEqual(1e-6);
  }
});
