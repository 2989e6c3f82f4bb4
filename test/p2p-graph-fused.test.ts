/**
 * Selective attention fusion: the patched UNet runs a self-attention layer in ONNX Runtime's fused
 * MultiHeadAttention only in calls where no control replaces or captures it. The fused graph agrees with the
 * explicit one within the measured bound, exactly wherever a control is on, and no layer that a control, a heat
 * map or LocalBlend reads is ever fused.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import { type GraphProto, type NodeProto, MICROSOFT_DOMAIN, decodeModel } from '../src/engine/graph/onnx-model.js';
import { P2P_INPUT, mapOutputName, probsOutputName } from '../src/p2p/graph/contract.js';
import { maxAbsDiff } from './helpers.js';
import {
  FUSED_TOLERANCE,
  LAYOUTS,
  type PatchedFixture,
  bools,
  captureAll,
  controls,
  int64s,
  loadPatched,
  probsOutputs,
  removeTempDirs,
  tempDir,
  unetInputs,
} from './p2p-graph-helpers.js';

const run = async (fx: PatchedFixture, inputs: Record<string, Tensor>, batch: number, overrides: Record<string, Tensor>, fetches: string[]): Promise<InferenceSession.ReturnType> =>
  fx.session.run({ ...inputs, ...controls(fx.meta, batch, overrides) }, fetches);
const data = (t: Tensor): Float32Array => t.data as Float32Array;

describe.each(LAYOUTS)('fused self-attention, $layout layout', ({ path }) => {
  let fused: PatchedFixture;
  let explicit: PatchedFixture;
  let fusedCacheDir: string;

  beforeAll(async () => {
    fusedCacheDir = tempDir('p2p-fused');
    fused = await loadPatched(path, fusedCacheDir, true);
    explicit = await loadPatched(path, tempDir('p2p-explicit'), false);
  });
  afterAll(async () => {
    await fused?.session.release();
    await explicit?.session.release();
    removeTempDirs();
  });

  test('every self-attention layer is fusable, no cross-attention layer is; the explicit patch fuses nothing', () => {
    for (const layer of fused.meta.layers) expect(layer.fused).toBe(layer.kind === 'self');
    expect(explicit.meta.layers.some((l) => l.fused)).toBe(false);
  });

  test('each MultiHeadAttention is the else branch of an If on exactly its own layer’s self_on or capture_on', () => {
    const cached = readdirSync(fusedCacheDir).find((f) => f.endsWith('.onnx')) as string;
    const graph = decodeModel(readFileSync(join(fusedCacheDir, cached))).graph as GraphProto;
    const nodes = graph.node ?? [];
    const producer = (tensor: string): NodeProto | undefined => nodes.find((n) => n.output?.includes(tensor));
    /** The layer index a Gather(control, i) reads, when it gathers from `control`. */
    const gathered = (tensor: string, control: string): number | undefined => {
      const gather = producer(tensor);
      if (gather?.opType !== 'Gather' || gather.input?.[0] !== control) return undefined;
      const index = graph.initializer?.find((t) => t.name === gather.input?.[1]);
      return index?.rawData ? Number(new BigInt64Array(new Uint8Array(index.rawData).buffer)[0]) : undefined;
    };
    const fusedLayers: number[] = [];
    expect(nodes.some((n) => n.opType === 'MultiHeadAttention')).toBe(false);
    for (const node of nodes.filter((n) => n.opType === 'If')) {
      const elseBranch = node.attribute?.find((a) => a.name === 'else_branch')?.g;
      const thenBranch = node.attribute?.find((a) => a.name === 'then_branch')?.g;
      expect(thenBranch?.node?.some((n) => n.opType === 'MultiHeadAttention')).toBeFalsy();
      const mha = elseBranch?.node?.filter((n) => n.opType === 'MultiHeadAttention') ?? [];
      if (mha.length === 0) continue;
      expect(mha).toHaveLength(1);
      expect(mha[0].domain).toBe(MICROSOFT_DOMAIN);
      const condition = producer(node.input?.[0] ?? '');
      expect(condition?.opType).toBe('Or');
      const [selfOn, captureOn] = (condition?.input ?? []).map((t, k) => gathered(t, k === 0 ? P2P_INPUT.selfOn : P2P_INPUT.captureOn));
      expect(selfOn).toBeDefined();
      expect(captureOn).toBe(selfOn);
      // The If yields the layer's capture output: the one the runtime fetches for it.
      expect(node.output).toContain(probsOutputName(selfOn as number));
      fusedLayers.push(selfOn as number);
    }
    const expected = fused.meta.layers.filter((l) => l.kind === 'self').map((l) => l.index);
    expect(fusedLayers.sort((a, b) => a - b)).toEqual(expected);
    // Heat maps and LocalBlend read p2p_map_<i>, which only cross layers have, and no cross layer is fused.
    for (const index of fusedLayers) expect(fused.session.outputNames).not.toContain(mapOutputName(index));
  });

  test.each([
    [2, 16],
    [4, 32],
  ])('neutral controls: the fused graph runs fused and agrees with the explicit one within the bound (batch %i, latent %i)', async (batch, latent) => {
    const inputs = unetInputs([21, 22, 23, 24].slice(0, batch), latent);
    const a = data((await run(fused, inputs, batch, {}, ['out_sample'])).out_sample);
    const b = data((await run(explicit, inputs, batch, {}, ['out_sample'])).out_sample);
    const diff = maxAbsDiff(a, b);
    expect(diff).toBeLessThanOrEqual(FUSED_TOLERANCE);
    // Not bitwise equal: the fused kernel really ran.
    expect(diff).toBeGreaterThan(0);
  });

  test('with every layer captured, the fused graph is the explicit graph exactly: outputs and probabilities', async () => {
    const inputs = unetInputs([31, 32], 16);
    const fetches = ['out_sample', ...probsOutputs(fused.meta)];
    const a = await run(fused, inputs, 2, captureAll(fused.meta, [0, 1]), fetches);
    const b = await run(explicit, inputs, 2, captureAll(explicit.meta, [0, 1]), fetches);
    for (const name of fetches) expect(maxAbsDiff(data(a[name]), data(b[name]))).toBeLessThanOrEqual(1e-6);
  });

  test('a self edit on the small layers runs them explicitly: the same edit as the explicit graph, within the bound', async () => {
    const inputs = unetInputs([41, 42], 16);
    const small = fused.meta.layers.map((l) => l.kind === 'self' && l.level >= 2);
    const edit = { [P2P_INPUT.selfOn]: bools(small), [P2P_INPUT.selfRows]: bools([false, true]), [P2P_INPUT.sourceIndex]: int64s([0, 0]) };
    const a = data((await run(fused, inputs, 2, edit, ['out_sample'])).out_sample);
    const b = data((await run(explicit, inputs, 2, edit, ['out_sample'])).out_sample);
    const neutral = data((await run(explicit, inputs, 2, {}, ['out_sample'])).out_sample);
    // The edit changes the output far beyond the bound, and the fused graph applies the same one.
    expect(maxAbsDiff(b, neutral)).toBeGreaterThan(100 * FUSED_TOLERANCE);
    expect(maxAbsDiff(a, b)).toBeLessThanOrEqual(FUSED_TOLERANCE);
  });
});
