/** Helpers for the attention-patch tests: UNet inputs, patched/unpatched sessions, control feeds, tensor rows. */
import { afterAll, beforeAll } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { float32ToHalf, halfToFloat32 } from '../src/engine/fp16.js';
import { AttentionPatchLoader } from '../src/p2p/graph/loader.js';
import { P2P_INPUT, type PatchedUNetMeta, neutralControlFeeds, probsOutputName } from '../src/p2p/graph/contract.js';
import { sdpaUnetPath, tinyModelDir } from './helpers.js';

export const LAYOUTS = [
  { layout: '3d', path: join(tinyModelDir, 'unet', 'model.onnx') },
  { layout: '4d', path: sdpaUnetPath },
] as const;

export const sessionOptions: InferenceSession.SessionOptions = { intraOpNumThreads: 2, interOpNumThreads: 1 };
export const TEXT_LENGTH = 77;
/**
 * How far the patched UNet with neutral controls (self-attention fused) may stray from the explicit graph on the
 * bundled model: measured at most 2.0e-6 (latents 16 and 32, batch 2 and 4, both layouts) and 3.1e-6 at latent 64,
 * on outputs up to 2 in magnitude (float32 rounding of a differently ordered softmax). Explicit paths stay at 1e-6.
 */
export const FUSED_TOLERANCE = 5e-6;
const TEXT_WIDTH = 32;
const LATENT_CHANNELS = 4;

const createdDirs: string[] = [];

/** A fresh temporary folder, removed by removeTempDirs (call it in afterAll). */
export function tempDir(label: string): string {
  const dir = mkdtempSync(join(tmpdir(), `reprompt-${label}-`));
  createdDirs.push(dir);
  return dir;
}

export function removeTempDirs(): void {
  for (const dir of createdDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** Deterministic values in [-1, 1) (mulberry32), so that every row of a batch differs. */
export function pseudoRandom(seed: number, length: number): Float32Array {
  let a = seed >>> 0;
  return Float32Array.from({ length }, () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 31 - 1;
  });
}

/** UNet inputs for rows with the given seeds: each seed fixes its row's latent and its text embedding. */
export function unetInputs(seeds: readonly number[], latent: number, floatType: 'float32' | 'float16' = 'float32'): Record<string, Tensor> {
  const sampleSize = LATENT_CHANNELS * latent * latent;
  const textSize = TEXT_LENGTH * TEXT_WIDTH;
  const sample = new Float32Array(seeds.length * sampleSize);
  const text = new Float32Array(seeds.length * textSize);
  seeds.forEach((seed, row) => {
    sample.set(pseudoRandom(seed, sampleSize), row * sampleSize);
    text.set(pseudoRandom(seed + 1000, textSize), row * textSize);
  });
  const tensor = (data: Float32Array, dims: number[]): Tensor =>
    floatType === 'float16' ? new Tensor('float16', float32ToHalf(data), dims) : new Tensor('float32', data, dims);
  return {
    sample: tensor(sample, [seeds.length, LATENT_CHANNELS, latent, latent]),
    timestep: new Tensor('int64', BigInt64Array.of(601n), [1]),
    encoder_hidden_states: tensor(text, [seeds.length, TEXT_LENGTH, TEXT_WIDTH]),
  };
}

/** The values of a float32 or float16 tensor as float32. */
export const floats = (t: Tensor): Float32Array =>
  t.type === 'float16' ? halfToFloat32(t.data as Uint16Array) : (t.data as Float32Array);

export interface PatchedFixture {
  session: InferenceSession;
  meta: PatchedUNetMeta;
}

export async function loadPatched(path: string, cacheDir: string, fuseSelfAttention = true): Promise<PatchedFixture> {
  const loader = new AttentionPatchLoader({ cacheDir, fuseSelfAttention });
  const { session } = await loader.load(path, sessionOptions);
  return { session, meta: loader.meta as PatchedUNetMeta };
}

/**
 * Registers the beforeAll/afterAll of a describe block that compares a patched UNet (fresh patch cache) with the
 * original graph; `prepare` returns the UNet file to patch and the original to load (a path or the model bytes).
 * The returned fixture is filled in by beforeAll.
 */
export function patchedAndOriginal(
  label: string,
  prepare: () => { patchPath: string; original: string | Uint8Array },
): { patched: PatchedFixture; original: InferenceSession } {
  const fixture = {} as { patched: PatchedFixture; original: InferenceSession };
  beforeAll(async () => {
    const { patchPath, original } = prepare();
    fixture.patched = await loadPatched(patchPath, tempDir(label));
    // InferenceSession.create has one overload for a path and one for bytes: a union matches neither.
    fixture.original = await (typeof original === 'string' ? InferenceSession.create(original, sessionOptions) : InferenceSession.create(original, sessionOptions));
  });
  afterAll(async () => {
    await fixture.patched?.session.release();
    await fixture.original?.release();
    removeTempDirs();
  });
  return fixture;
}

/** Neutral controls for `batch` rows with some inputs replaced. */
export function controls(meta: PatchedUNetMeta, batch: number, overrides: Record<string, Tensor> = {}): Record<string, Tensor> {
  return { ...neutralControlFeeds(meta, batch), ...overrides };
}

export const int64s = (values: readonly number[]): Tensor => new Tensor('int64', BigInt64Array.from(values, BigInt), [values.length]);
export const bools = (values: readonly boolean[]): Tensor => new Tensor('bool', Uint8Array.from(values, Number), [values.length]);
export const allLayers = (meta: PatchedUNetMeta, on = true): Tensor => bools(meta.layers.map(() => on));

/** Controls that capture the given rows on every layer. */
export const captureAll = (meta: PatchedUNetMeta, rows: readonly number[]): Record<string, Tensor> => ({
  [P2P_INPUT.captureOn]: allLayers(meta),
  [P2P_INPUT.captureRows]: int64s(rows),
});

export const probsOutputs = (meta: PatchedUNetMeta): string[] => meta.layers.map((l) => probsOutputName(l.index));

/** [N, K, K] float32 with one K×K matrix per row. */
export function perRowMatrices(rows: readonly ((i: number, j: number) => number)[], K = TEXT_LENGTH): Tensor {
  const data = new Float32Array(rows.length * K * K);
  rows.forEach((m, r) => {
    for (let i = 0; i < K; i++) for (let j = 0; j < K; j++) data[r * K * K + i * K + j] = m(i, j);
  });
  return new Tensor('float32', data, [rows.length, K, K]);
}

/** [N, K] float32 with one constant per row. */
export const perRowConstants = (values: readonly number[], K = TEXT_LENGTH): Tensor =>
  new Tensor('float32', Float32Array.from({ length: values.length * K }, (_, i) => values[Math.floor(i / K)]), [values.length, K]);

export const identity = (i: number, j: number): number => (i === j ? 1 : 0);

/** Row r (along axis 0) of a float tensor, as float32. */
export function row(t: Tensor, r: number): Float32Array {
  const size = t.dims.slice(1).reduce((a, b) => a * b, 1);
  return floats(t).subarray(r * size, (r + 1) * size);
}
