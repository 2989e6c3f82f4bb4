/**
 * Live previews: x₀ from the sampler's step (ε- and v-prediction), the latent→RGB approximation, which steps get
 * one, and progress that counts the user's steps (PNDM's doubled first step is one step).
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import sharp from 'sharp';
import type { StepProgress } from '../src/engine/jobs.js';
import { StableDiffusionPipeline } from '../src/engine/pipeline.js';
import { encodePreview, LatentPreviewer, latentToRgb, predictedOriginal, previewSteps } from '../src/engine/preview.js';
import { createScheduler } from '../src/engine/schedulers/index.js';
import type { SchedulerConfig } from '../src/engine/schedulers/scheduler.js';
import { TEST_SESSIONS } from './engine-helpers.js';
import { maxAbsDiff, tinyModelDir } from './helpers.js';

/** SD's training schedule; `prediction_type` as SD 1.5 (ε) or SD 2.x 768 (v) ship it. */
const config = (prediction: 'epsilon' | 'v_prediction'): SchedulerConfig => ({
  _class_name: 'DDIMScheduler',
  beta_start: 0.00085,
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  num_train_timesteps: 1000,
  prediction_type: prediction,
  set_alpha_to_one: false,
  steps_offset: 1,
  clip_sample: false,
});

/** Deterministic values in about [-2, 2]. */
function values(n: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return (s / 2 ** 32) * 4 - 2;
  });
}

describe('x₀ from the sampler step', () => {
  test('recovers x₀ from x_t and the model output for ε- and v-prediction', () => {
    const x0 = values(64, 1);
    const eps = values(64, 2);
    const alpha = 0.3;
    const [a, b] = [Math.sqrt(alpha), Math.sqrt(1 - alpha)];
    const xt = x0.map((x, i) => a * x + b * eps[i]);
    const v = x0.map((x, i) => a * eps[i] - b * x);
    expect(maxAbsDiff(predictedOriginal(xt, eps, alpha, 'epsilon'), x0)).toBeLessThan(1e-5);
    expect(maxAbsDiff(predictedOriginal(xt, v, alpha, 'v_prediction'), x0)).toBeLessThan(1e-5);
  });

  test.each(['epsilon', 'v_prediction'] as const)("DDIM (%s): x₀ at a noisy step is the one the sampler's own step moves to", (prediction) => {
    // DDIM (η = 0) moves x_t to √ᾱ_prev·x₀ + √(1 − ᾱ_prev)·ε, with ε = (x_t − √ᾱ·x₀)/√(1 − ᾱ): rebuild that from our x₀.
    const scheduler = createScheduler(config(prediction), 'ddim');
    scheduler.setTimesteps(4);
    const previewer = new LatentPreviewer(scheduler, 4);
    const sample = values(4 * 8 * 8, 3);
    const output = values(4 * 8 * 8, 4);
    const x0 = previewer.originalAt(0, scheduler.scaleModelInput(sample, 0), output, { row: 0, channels: 4, height: 8, width: 8 });
    const landed = scheduler.step(output, 0, sample, { randn: () => new Float32Array(sample.length) });
    const [alpha, alphaPrev] = [previewer.alphaAt(0), previewer.alphaAt(1)];
    expect(alpha).toBeLessThan(0.5); // t = 751: mostly noise, so x₀ is far from x_t
    const expected = x0.map((x, i) => {
      const eps = (sample[i] - Math.sqrt(alpha) * x) / Math.sqrt(1 - alpha);
      return Math.sqrt(alphaPrev) * x + Math.sqrt(1 - alphaPrev) * eps;
    });
    expect(maxAbsDiff(expected, landed)).toBeLessThan(1e-4);
    expect(maxAbsDiff(x0, sample)).toBeGreaterThan(0.5);
  });

  test('Euler (σ-parameterised input): x₀ = x − σ·ε, exactly what its last step lands on', () => {
    const scheduler = createScheduler(config('epsilon'), 'euler');
    scheduler.setTimesteps(3);
    const previewer = new LatentPreviewer(scheduler, 3);
    const sample = values(4 * 4 * 4, 5);
    const output = values(4 * 4 * 4, 6);
    for (let i = 0; i < 2; i++) scheduler.step(output, i, sample, { randn: () => new Float32Array(sample.length) });
    const landed = scheduler.step(output, 2, sample, { randn: () => new Float32Array(sample.length) });
    const x0 = previewer.originalAt(2, scheduler.scaleModelInput(sample, 2), output, { row: 0, channels: 4, height: 4, width: 4 });
    expect(maxAbsDiff(x0, landed)).toBeLessThan(1e-4);
  });
});

describe('latent → RGB preview', () => {
  test('applies the SD factors per pixel and maps [-1, 1] to 0…255', () => {
    // One pixel per channel set: channel 0 = 1 → (0.3512, 0.2297, 0.3227); channel 3 = 1 → (−0.212, −0.2616, −0.7177).
    const latent = Float32Array.from([1, 0, 0, 0, 0, 0, 0, 1]); // [C=4, h=1, w=2]
    const rgb = latentToRgb(latent, 1, 2);
    const byte = (v: number) => Math.round(((v + 1) / 2) * 255);
    expect(Array.from(rgb.data)).toEqual([byte(0.3512), byte(0.2297), byte(0.3227), byte(-0.212), byte(-0.2616), byte(-0.7177)]);
  });

  test('is upscaled to the asked longest side and encoded as WebP or JPEG', async () => {
    const rgb = latentToRgb(values(4 * 8 * 16, 7), 8, 16);
    for (const format of ['webp', 'jpeg'] as const) {
      const preview = await encodePreview(rgb, { maxSide: 128, format });
      const meta = await sharp(preview.data).metadata();
      expect([meta.format, meta.width, meta.height]).toEqual([format, 128, 64]);
      expect([preview.width, preview.height]).toEqual([128, 64]);
    }
  });

  test('previews are spread over the steps, never on the last one, at most `count`', () => {
    expect([...previewSteps(8, 3)]).toEqual([2, 4, 6]);
    expect([...previewSteps(8, 4)]).toEqual([2, 3, 5, 6]);
    expect([...previewSteps(2, 4)]).toEqual([1]);
    expect([...previewSteps(1, 4)]).toEqual([]);
    expect(previewSteps(20, 100).size).toBe(19);
  });
});

describe('on the bundled model', () => {
  let pipeline: StableDiffusionPipeline;
  beforeAll(async () => {
    pipeline = await StableDiffusionPipeline.load(tinyModelDir, TEST_SESSIONS);
  });
  afterAll(() => pipeline?.release());

  const params = { prompt: 'a red fox', negativePrompt: '', seed: '3', guidance: 7.5, width: 64, height: 64 };

  test('PNDM: 3 steps are reported as 1/3, 2/3, 3/3 (its extra first UNet call is not a step)', async () => {
    const seen: StepProgress[] = [];
    const result = await pipeline.imagine({ kind: 'imagine', params: { ...params, steps: 3, sampler: 'pndm' } }, { onProgress: (p) => seen.push(p) });
    expect(result.timings.unetCalls).toBe(4);
    expect(seen.map((p) => `${p.step}/${p.total}`)).toEqual(['1/3', '2/3', '3/3']);
    expect(seen.at(-1)!.etaMs).toBe(0);
  });

  test('previews only when asked, on the chosen steps, as small images', async () => {
    const plain: StepProgress[] = [];
    await pipeline.imagine({ kind: 'imagine', params: { ...params, steps: 8, sampler: 'euler' } }, { onProgress: (p) => plain.push(p) });
    expect(plain.some((p) => p.preview)).toBe(false);

    const seen: StepProgress[] = [];
    const job = { kind: 'imagine' as const, params: { ...params, steps: 8, sampler: 'euler' as const }, preview: { count: 3, maxSide: 96 } };
    await pipeline.imagine(job, { onProgress: (p) => seen.push(p) });
    expect(seen.filter((p) => p.preview).map((p) => p.step)).toEqual([2, 4, 6]);
    for (const { preview } of seen.filter((p) => p.preview)) {
      const meta = await sharp(preview!.data).metadata();
      expect([meta.format, meta.width, meta.height]).toEqual(['webp', 96, 96]);
    }
    // The picture forms: the step-6 preview is not the step-2 one.
    const [early, late] = [seen[1].preview!, seen[5].preview!];
    expect(Buffer.from(early.data).equals(Buffer.from(late.data))).toBe(false);
  });

  test('a minimum interval between previews drops the ones that come too soon', async () => {
    const seen: StepProgress[] = [];
    const job = { kind: 'imagine' as const, params: { ...params, steps: 8, sampler: 'ddim' as const }, preview: { count: 7, minIntervalMs: 60_000 } };
    await pipeline.imagine(job, { onProgress: (p) => seen.push(p) });
    expect(seen.filter((p) => p.preview).map((p) => p.step)).toEqual([1]);
  });
});
