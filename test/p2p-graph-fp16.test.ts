/**
 * The attention patch on a float16 UNet (the tiny UNet converted like convert_float_to_float16 with fp16 I/O):
 * the contract's float tensors stay float32, and captures and edits behave as in float32.
 */
import { describe, expect, test } from '@jest/globals';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tensor } from 'onnxruntime-node';
import { P2P_INPUT, extInputName, probsOutputName } from '../src/p2p/graph/contract.js';
import { patchUNetGraph } from '../src/p2p/graph/patch.js';
import { maxAbsDiff } from './helpers.js';
import { toFloat16 } from './p2p-graph-fixtures.js';
import {
  LAYOUTS,
  allLayers,
  bools,
  captureAll,
  controls,
  floats,
  identity,
  int64s,
  patchedAndOriginal,
  perRowConstants,
  perRowMatrices,
  probsOutputs,
  row,
  tempDir,
  unetInputs,
} from './p2p-graph-helpers.js';

const LATENT = 16;
/**
 * ORT's CPU provider runs float16 nodes through inserted casts and, in the unpatched graph, drops the float16
 * rounding of the probabilities between Softmax and the V MatMul; the patched graph keeps it. The outputs then
 * differ by a few float16 steps (measured 1.8e-3; float16 against float32 differs by 5e-3 on the same inputs).
 */
const CPU_FLOAT16_TOLERANCE = 4e-3;

describe('attention patch, float16 UNet', () => {
  const float16Inputs = (seeds: number[]) => unetInputs(seeds, LATENT, 'float16');
  const fx = patchedAndOriginal('p2p-graph-cache', () => {
    const unetDir = join(tempDir('p2p-fp16'), 'unet');
    mkdirSync(unetDir);
    const bytes = toFloat16(readFileSync(LAYOUTS[0].path));
    writeFileSync(join(unetDir, 'model.onnx'), bytes);
    return { patchPath: join(unetDir, 'model.onnx'), original: bytes };
  });

  test('finds the same layers as in float32 and reports the model as float16', () => {
    const float32Layers = patchUNetGraph(readFileSync(LAYOUTS[0].path)).layers;
    expect(fx.patched.meta.layers.map(({ heads, level, ...layer }) => layer)).toEqual(float32Layers);
    expect(fx.patched.meta.floatType).toBe('float16');
  });

  test('neutral controls reproduce the unpatched UNet, and capturing does not change the output', async () => {
    const { meta, session } = fx.patched;
    const inputs = float16Inputs([11, 12]);
    const expected = floats((await fx.original.run(inputs)).out_sample);
    const neutral = (await session.run({ ...inputs, ...controls(meta, 2) }, ['out_sample'])).out_sample;
    expect(neutral.type).toBe('float16');
    expect(maxAbsDiff(floats(neutral), expected)).toBeLessThan(CPU_FLOAT16_TOLERANCE);
    const capturing = (await session.run({ ...inputs, ...controls(meta, 2, captureAll(meta, [0, 1])) }, ['out_sample'])).out_sample;
    expect(maxAbsDiff(floats(capturing), floats(neutral))).toBe(0);
  });

  test('captures come out as float32 probabilities', async () => {
    const { meta, session } = fx.patched;
    const out = await session.run({ ...float16Inputs([21, 22]), ...controls(meta, 2, captureAll(meta, [1])) }, probsOutputs(meta));
    for (const layer of meta.layers) {
      const probs = out[probsOutputName(layer.index)];
      expect(probs.type).toBe('float32');
      const k = probs.dims[3];
      const data = probs.data as Float32Array;
      for (let start = 0; start < data.length; start += k) {
        expect(Math.abs(data.subarray(start, start + k).reduce((a, b) => a + b, 0) - 1)).toBeLessThan(5e-3);
      }
    }
  });

  test('self and cross edits copy the source row', async () => {
    const { meta, session } = fx.patched;
    const edits = {
      ...captureAll(meta, [0, 1]),
      [P2P_INPUT.sourceIndex]: int64s([0, 0]),
      [P2P_INPUT.selfOn]: allLayers(meta),
      [P2P_INPUT.selfRows]: bools([false, true]),
      [P2P_INPUT.crossOn]: new Tensor('bool', Uint8Array.of(1), []),
      [P2P_INPUT.crossWeight]: perRowMatrices([identity, identity]),
      [P2P_INPUT.crossKeep]: perRowConstants([0, 0]),
    };
    const out = await session.run({ ...float16Inputs([31, 32]), ...controls(meta, 2, edits) }, probsOutputs(meta));
    for (const layer of meta.layers) {
      const probs = out[probsOutputName(layer.index)];
      expect(maxAbsDiff(row(probs, 1), row(probs, 0))).toBeLessThan(1e-6);
    }
  });

  test('an edit replayed against captured float32 source rows reproduces the batched edit', async () => {
    const { meta, session } = fx.patched;
    const edits = (sources: number[], selfRows: boolean[]) => ({
      [P2P_INPUT.sourceIndex]: int64s(sources),
      [P2P_INPUT.selfOn]: allLayers(meta),
      [P2P_INPUT.selfRows]: bools(selfRows),
      [P2P_INPUT.crossOn]: new Tensor('bool', Uint8Array.of(1), []),
      [P2P_INPUT.crossWeight]: perRowMatrices(sources.map(() => identity)),
      [P2P_INPUT.crossKeep]: perRowConstants(sources.map(() => 0)),
    });
    const together = await session.run(
      { ...float16Inputs([41, 42]), ...controls(meta, 2, { ...edits([0, 0], [false, true]), ...captureAll(meta, [0]) }) },
      ['out_sample', ...probsOutputs(meta)],
    );
    const external = Object.fromEntries(meta.layers.map((l) => [extInputName(l.index), together[probsOutputName(l.index)]]));
    const alone = await session.run({ ...float16Inputs([42]), ...controls(meta, 1, { ...edits([1], [true]), ...external }) }, ['out_sample']);
    expect(maxAbsDiff(row(alone.out_sample, 0), row(together.out_sample, 1))).toBeLessThan(CPU_FLOAT16_TOLERANCE);
  });
});
