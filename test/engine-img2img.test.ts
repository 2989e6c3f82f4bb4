/**
 * Image-to-image (diffusers' StableDiffusionImg2ImgPipeline semantics) and grids of candidates, on the bundled
 * model at 64×64: the img2img invariants, the Vary/Upscale job, and grid candidate k = a single run with seed+k.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { UNetCall } from '../src/engine/controller.js';
import { gridSeeds } from '../src/engine/grid.js';
import { engineHandlers } from '../src/engine/handlers.js';
import { readPngText } from '../src/engine/image.js';
import { addNoise, img2imgStartIndex, upscaleSize, VARY_STRENGTH } from '../src/engine/img2img.js';
import type { ImagineGridResult, ImagineParams, ImagineResult, Img2ImgResult } from '../src/engine/jobs.js';
import { TorchGenerator } from '../src/engine/noise.js';
import { StableDiffusionPipeline } from '../src/engine/pipeline.js';
import { createScheduler } from '../src/engine/schedulers/index.js';
import type { SamplerName } from '../src/engine/schedulers/scheduler.js';
import { decodePng, expectLatentsClose, TEST_SESSIONS } from './engine-helpers.js';
import { maxAbsDiff, tinyModelDir } from './helpers.js';

const SIZE = 64;
const LATENT = [1, 4, SIZE / 8, SIZE / 8];
const base: ImagineParams = { prompt: 'a red house by a lake', negativePrompt: '', seed: '1234', steps: 10, guidance: 7.5, width: SIZE, height: SIZE };

let pipeline: StableDiffusionPipeline;
beforeAll(async () => {
  pipeline = await StableDiffusionPipeline.load(tinyModelDir, TEST_SESSIONS);
});
afterAll(() => pipeline?.release());

const context = () => ({ pipeline, onProgress: () => undefined, shouldCancel: () => false });
const row = { prompt: base.prompt, negativePrompt: base.negativePrompt, guidance: base.guidance };

async function expectImagesClose(a: Uint8Array, b: Uint8Array): Promise<void> {
  const [x, y] = [await decodePng(a), await decodePng(b)];
  expect([x.width, x.height]).toEqual([y.width, y.height]);
  expect(maxAbsDiff(x.data, y.data)).toBeLessThanOrEqual(2);
}

describe('img2img invariants', () => {
  test('get_timesteps: the last int(steps·strength) entries of the schedule', () => {
    expect(img2imgStartIndex(10, 0)).toBe(10);
    expect(img2imgStartIndex(10, 0.35)).toBe(7);
    expect(img2imgStartIndex(10, 0.7)).toBe(3);
    expect(img2imgStartIndex(20, 0.75)).toBe(5);
    expect(img2imgStartIndex(10, 1)).toBe(0);
  });

  test.each(['ddim', 'pndm'] as SamplerName[])('%s, strength 0: returns the input latents and runs no UNet call', async (sampler) => {
    const input = new TorchGenerator('7').randn(LATENT);
    const result = await pipeline.denoise({ rows: [row], seed: '99', steps: 10, width: SIZE, height: SIZE, sampler, init: { latents: input, strength: 0 } });
    expect(result.latents).toEqual(input);
    expect(result.timings.unetCalls).toBe(0);
  });

  test('pndm, strength 0.5: a fresh PNDM run on the cut schedule (diffusers’ timesteps[t_start:])', async () => {
    const scheduler = createScheduler(pipeline.model.schedulerConfig, 'pndm');
    scheduler.setTimesteps(10);
    expect(scheduler.timesteps).toHaveLength(11);
    const calls: number[] = [];
    const input = new TorchGenerator('7').randn(LATENT);
    const result = await pipeline.denoise({
      rows: [row],
      seed: '99',
      steps: 10,
      width: SIZE,
      height: SIZE,
      sampler: 'pndm',
      init: { latents: input, strength: 0.5 },
      controller: { afterStep: (call: UNetCall) => void calls.push(call.timestep) },
    });
    expect(calls).toEqual(scheduler.timesteps.slice(5));
    expect(result.timings.unetCalls).toBe(6);
  });

  test.each(['pndm', 'ddim', 'euler', 'euler-a', 'lms', 'dpm++2m', 'dpm++2m-karras', 'lcm'] as SamplerName[])(
    '%s, strength 1: equals text-to-image from the same noise (latents within 1e-4·max)',
    async (sampler) => {
      // Text-to-image starts from ε·init_noise_sigma; img2img at strength 1 from add_noise(x0, ε, t_first). Pick the x0
      // that makes the two starts equal: every step after that must agree, ancestral noise included.
      const scheduler = createScheduler(pipeline.model.schedulerConfig, sampler);
      scheduler.setTimesteps(base.steps);
      const signal = addNoise(scheduler, Float32Array.of(1), Float32Array.of(0), 0)[0];
      const spread = addNoise(scheduler, Float32Array.of(0), Float32Array.of(1), 0)[0];
      const noise = new TorchGenerator(base.seed).randn(LATENT);
      const x0 = noise.map((e) => (e * (scheduler.initNoiseSigma - spread)) / signal);
      const steps = sampler === 'lcm' ? 4 : base.steps;
      const request = { rows: [row], seed: base.seed, steps, width: SIZE, height: SIZE, sampler };
      const txt2img = await pipeline.denoise(request);
      const timesteps: number[] = [];
      const controller = { afterStep: (call: UNetCall) => void timesteps.push(call.timestep) };
      const image2image = await pipeline.denoise({ ...request, init: { latents: x0, strength: 1 }, controller });
      expect(image2image.timings.unetCalls).toBe(txt2img.timings.unetCalls);
      const fresh = createScheduler(pipeline.model.schedulerConfig, sampler);
      fresh.setTimesteps(steps);
      expect(timesteps).toEqual(fresh.timesteps);
      expectLatentsClose(image2image.latents, txt2img.latents);
    },
  );

  test('strength 0.5: the second half of the schedule; another seed draws other noise', async () => {
    const scheduler = createScheduler(pipeline.model.schedulerConfig, 'ddim');
    scheduler.setTimesteps(10);
    const input = new TorchGenerator('7').randn(LATENT);
    const calls: number[] = [];
    const request = { rows: [row], steps: 10, width: SIZE, height: SIZE, sampler: 'ddim' as const, init: { latents: input, strength: 0.5 } };
    const result = await pipeline.denoise({ ...request, seed: '99', controller: { afterStep: (call: UNetCall) => void calls.push(call.timestep) } });
    expect(result.timings.unetCalls).toBe(5);
    expect(calls).toEqual(scheduler.timesteps.slice(5));
    const again = await pipeline.denoise({ ...request, seed: '99' });
    const other = await pipeline.denoise({ ...request, seed: '100' });
    expect(again.latents).toEqual(result.latents);
    expect(maxAbsDiff(other.latents, result.latents)).toBeGreaterThan(1e-3);
  });

  test.each(['lms', 'dpm++2m', 'dpm++2m-karras'] as SamplerName[])('%s, strength 0.5: starts at step index 5 with no history', async (sampler) => {
    const scheduler = createScheduler(pipeline.model.schedulerConfig, sampler);
    scheduler.setTimesteps(10);
    const calls: number[] = [];
    const input = new TorchGenerator('7').randn(LATENT);
    const request = { rows: [row], seed: '99', steps: 10, width: SIZE, height: SIZE, sampler, init: { latents: input, strength: 0.5 } };
    const result = await pipeline.denoise({ ...request, controller: { afterStep: (call: UNetCall) => void calls.push(call.timestep) } });
    expect(calls).toEqual(scheduler.timesteps.slice(5));
    expect(result.latents.every(Number.isFinite)).toBe(true);
    expect((await pipeline.denoise(request)).latents).toEqual(result.latents);
  });

  test('refused: a strength outside [0, 1]', async () => {
    const input = new Float32Array(4 * 8 * 8);
    const request = { rows: [row], seed: '1', steps: 10, width: SIZE, height: SIZE };
    for (const strength of [1.5, -0.1, Number.NaN]) {
      await expect(pipeline.denoise({ ...request, sampler: 'ddim', init: { latents: input, strength } })).rejects.toMatchObject({ code: 'bad_input' });
    }
  });
});

describe('Vary and Upscale (the img2img job)', () => {
  let source: ImagineResult;
  beforeAll(async () => {
    source = await pipeline.imagine({ kind: 'imagine', params: { ...base, sampler: 'ddim' } });
  });

  test('Vary (subtle): same size, new seed, the strength in the PNG parameters', async () => {
    const params = { ...source.params, seed: '4321' };
    const result = (await engineHandlers.img2img(context(), { kind: 'img2img', params, image: source.image.png, strength: VARY_STRENGTH.subtle })) as Img2ImgResult;
    expect([result.image.width, result.image.height]).toEqual([SIZE, SIZE]);
    expect(result.timings.unetCalls).toBe(Math.floor(10 * VARY_STRENGTH.subtle));
    expect(readPngText(result.image.png).parameters).toContain('Seed: 4321');
    expect(readPngText(result.image.png).parameters).toContain(`Denoising strength: ${VARY_STRENGTH.subtle}`);
    // The same job again is the same image (seeded).
    const again = (await engineHandlers.img2img(context(), { kind: 'img2img', params, image: source.image.png, strength: VARY_STRENGTH.subtle })) as Img2ImgResult;
    expect(again.latents!.data).toEqual(result.latents!.data);
  });

  test('Upscale ×2: 64 → 128', async () => {
    const size = upscaleSize(SIZE, SIZE);
    const params = { ...source.params, ...size };
    const result = (await engineHandlers.img2img(context(), { kind: 'img2img', params, image: source.image.png, strength: 0.35 })) as Img2ImgResult;
    expect([result.image.width, result.image.height]).toEqual([128, 128]);
    expect((await decodePng(result.image.png)).width).toBe(128);
  });

  test('Upscale beyond the size limit is refused with the sizes', () => {
    expect(() => upscaleSize(1536, 1024)).toThrow(/3072×2048.*2048-pixel limit/);
  });

  test('an unreadable image is refused before any model work', async () => {
    await expect(
      engineHandlers.img2img(context(), { kind: 'img2img', params: source.params, image: new TextEncoder().encode('nope'), strength: 0.5 }),
    ).rejects.toMatchObject({ code: 'bad_input' });
  });
});

describe('grid: candidate k equals a single imagine with seed+k', () => {
  test('seeds wrap at 2^64', () => {
    expect(gridSeeds('18446744073709551614', 3)).toEqual(['18446744073709551614', '18446744073709551615', '0']);
  });

  test.each([
    ['pndm', 2],
    ['euler-a', 3],
  ] as [SamplerName, number][])('%s, %i candidates in one batch', async (sampler, count) => {
    const params = { ...base, sampler, steps: 6 };
    const grid = (await engineHandlers['imagine-grid'](context(), { kind: 'imagine-grid', params, count, returnLatents: true })) as ImagineGridResult;
    expect(grid.candidates.map((c) => c.params.seed)).toEqual(gridSeeds(base.seed, count));
    for (const [k, candidate] of grid.candidates.entries()) {
      const single = await pipeline.imagine({ kind: 'imagine', params: { ...params, seed: candidate.params.seed }, returnLatents: true });
      // One batch for all candidates: as many UNet calls as one single run.
      expect(grid.timings.unetCalls).toBe(single.timings.unetCalls);
      expectLatentsClose(candidate.latents!.data, single.latents!.data);
      await expectImagesClose(candidate.image.png, single.image.png);
      expect(readPngText(candidate.image.png).parameters).toBe(readPngText(single.image.png).parameters);
      expect(k).toBeLessThan(count);
    }
  });

  test('denoise with one seed per row runs them as one UNet batch', async () => {
    const batches: number[] = [];
    const seeds = gridSeeds('5', 2);
    await pipeline.denoise({ rows: [row, row], seed: seeds[0], seeds, steps: 2, width: SIZE, height: SIZE, sampler: 'ddim', controller: { afterStep: (c) => void batches.push(c.batch) } });
    expect(batches).toEqual([4, 4]);
    await expect(pipeline.denoise({ rows: [row, row], seed: '5', seeds: ['1', '2', '3'], steps: 2, width: SIZE, height: SIZE })).rejects.toMatchObject({ code: 'bad_input' });
  });

  test('a count outside 1–4 is refused', async () => {
    await expect(engineHandlers['imagine-grid'](context(), { kind: 'imagine-grid', params: base, count: 5 })).rejects.toMatchObject({ code: 'bad_input' });
  });
});
