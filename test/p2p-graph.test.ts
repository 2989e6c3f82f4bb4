/**
 * The attention patch on the tiny UNet, in both probability layouts: which layers it finds, that neutral controls
 * leave the UNet's output as it was, and what the capture and map outputs hold.
 */
import { describe, expect, test } from '@jest/globals';
import { P2P_INPUT, mapOutputName, probsOutputName } from '../src/p2p/graph/contract.js';
import { maxAbsDiff } from './helpers.js';
import {
  FUSED_TOLERANCE,
  LAYOUTS,
  TEXT_LENGTH,
  bools,
  captureAll,
  controls,
  int64s,
  patchedAndOriginal,
  probsOutputs,
  row,
  unetInputs,
} from './p2p-graph-helpers.js';

/** SD 1.5's attention layers in graph order (docs: exported-graphs.md, p2p-algorithm.md §1.1). */
function documentedLayers(): { place: string; block: number; kind: string; level: number }[] {
  const layers: { place: string; block: number; kind: string; level: number }[] = [];
  const add = (place: string, block: number, transformerBlocks: number, level: number): void => {
    for (let t = 0; t < transformerBlocks; t++) layers.push({ place, block, kind: 'self', level }, { place, block, kind: 'cross', level });
  };
  for (const block of [0, 1, 2]) add('down', block, 2, block);
  add('mid', 0, 1, 3);
  for (const block of [1, 2, 3]) add('up', block, 3, 3 - block);
  return layers;
}

describe.each(LAYOUTS)('attention patch, $layout layout', ({ layout, path }) => {
  const fx = patchedAndOriginal('p2p-graph', () => ({ patchPath: path, original: path }));

  test('finds the 32 attention layers with their documented kind, place, block and level', () => {
    const { layers } = fx.patched.meta;
    expect(layers.map(({ place, block, kind, level }) => ({ place, block, kind, level }))).toEqual(documentedLayers());
    expect(layers.filter((l) => l.kind === 'self')).toHaveLength(16);
    for (const layer of layers) {
      expect(layer.layout).toBe(layout);
      expect(layer.heads).toBe(8);
      // The structural classification agrees with the module names: attn1 is self-attention, attn2 cross.
      expect(layer.name).toContain(layer.kind === 'self' ? '/attn1/' : '/attn2/');
    }
    expect(fx.patched.meta.textLength).toBe(TEXT_LENGTH);
    expect(fx.patched.meta.floatType).toBe('float32');
  });

  test.each([
    [2, 16],
    [4, 32],
  ])('neutral controls reproduce the unpatched UNet, within the fused-attention bound (batch %i, latent %i)', async (batch, latent) => {
    const inputs = unetInputs([11, 12, 13, 14].slice(0, batch), latent);
    const expected = (await fx.original.run(inputs)).out_sample;
    const actual = (await fx.patched.session.run({ ...inputs, ...controls(fx.patched.meta, batch) }, ['out_sample'])).out_sample;
    expect(actual.dims).toEqual(expected.dims);
    expect(maxAbsDiff(actual.data as Float32Array, expected.data as Float32Array)).toBeLessThanOrEqual(FUSED_TOLERANCE);
  });

  test('captures full probabilities of the chosen rows and head-mean maps, without changing the output', async () => {
    const { meta, session } = fx.patched;
    const inputs = unetInputs([21, 22], 16);
    const crossLayers = meta.layers.filter((l) => l.kind === 'cross');
    const feeds = { ...inputs, ...controls(meta, 2, { ...captureAll(meta, [1, 0]), [P2P_INPUT.mapRows]: int64s([1]) }) };
    const out = await session.run(feeds, ['out_sample', ...probsOutputs(meta), ...crossLayers.map((l) => mapOutputName(l.index))]);
    const plain = (await fx.original.run(inputs)).out_sample;
    expect(maxAbsDiff(out.out_sample.data as Float32Array, plain.data as Float32Array)).toBeLessThanOrEqual(1e-6);

    for (const layer of meta.layers) {
      const q = (16 * 16) / 4 ** layer.level;
      const k = layer.kind === 'self' ? q : TEXT_LENGTH;
      const probs = out[probsOutputName(layer.index)];
      expect(probs.dims).toEqual([2, 8, q, k]);
      expect(maxRowSumError(probs.data as Float32Array, k)).toBeLessThan(1e-5);
      if (layer.kind === 'cross') {
        const map = out[mapOutputName(layer.index)];
        expect(map.dims).toEqual([1, q, k]);
        // map_rows [1] is batch row 1, which capture_rows [1, 0] put first.
        expect(maxAbsDiff(map.data as Float32Array, headMean(row(probs, 0), 8))).toBeLessThan(1e-6);
      }
    }
  });

  test('a layer whose capture is off outputs an empty tensor, and maps are empty without map rows', async () => {
    const { meta, session } = fx.patched;
    const captureOn = bools(meta.layers.map((l) => l.index === 0));
    const feeds = { ...unetInputs([31, 32], 16), ...controls(meta, 2, { [P2P_INPUT.captureOn]: captureOn, [P2P_INPUT.captureRows]: int64s([0]) }) };
    const out = await session.run(feeds, [probsOutputName(0), probsOutputName(2), mapOutputName(1)]);
    expect(out[probsOutputName(0)].dims).toEqual([1, 8, 256, 256]);
    expect(out[probsOutputName(2)].dims[0]).toBe(0);
    expect(out[mapOutputName(1)].dims[0]).toBe(0);
  });
});

/** Largest |Σ_k p − 1| over the rows of a [..., K] probability tensor. */
function maxRowSumError(data: Float32Array, k: number): number {
  let worst = 0;
  for (let start = 0; start < data.length; start += k) {
    let sum = 0;
    for (let j = 0; j < k; j++) sum += data[start + j];
    worst = Math.max(worst, Math.abs(sum - 1));
  }
  return worst;
}

/** Mean over the heads of one row [H, Q, K] → [Q, K]. */
function headMean(rowData: Float32Array, heads: number): Float32Array {
  const size = rowData.length / heads;
  const mean = new Float32Array(size);
  for (let h = 0; h < heads; h++) for (let i = 0; i < size; i++) mean[i] += rowData[h * size + i] / heads;
  return mean;
}
