/**
 * The denoising loop's contracts beyond single-image references, on small fast runs: several prompt rows in one
 * batch, controller hooks, progress and cancellation, truncation reports.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { UNetCall } from '../src/engine/controller.js';
import { StableDiffusionPipeline, type DenoiseRequest, type PromptRow } from '../src/engine/pipeline.js';
import { decodePng, expectLatentsClose, TEST_SESSIONS } from './engine-helpers.js';
import { tinyModelDir } from './helpers.js';

let pipeline: StableDiffusionPipeline;
beforeAll(async () => {
  pipeline = await StableDiffusionPipeline.load(tinyModelDir, TEST_SESSIONS);
});
afterAll(() => pipeline?.release());

const small = { seed: '11', steps: 4, width: 64, height: 64 } as const;
const cat: PromptRow = { prompt: 'a cat on a sofa', negativePrompt: '', guidance: 7.5 };
const dog: PromptRow = { prompt: 'a dog on a sofa', negativePrompt: 'blurry', guidance: -3 };

function row(latents: Float32Array, index: number, count: number): Float32Array {
  const size = latents.length / count;
  return latents.subarray(index * size, (index + 1) * size);
}

describe('denoise', () => {
  test('rows with their own guidance in one batch each reproduce their single-row run (Euler a noise is shared)', async () => {
    const request: DenoiseRequest = { ...small, sampler: 'euler-a', rows: [cat, dog] };
    const calls: UNetCall[] = [];
    const together = await pipeline.denoise({ ...request, controller: { unetFeeds: (call) => (calls.push(call), {}) } });
    expect(together.shape).toEqual([2, 4, 8, 8]);
    expect(calls.map((c) => [c.index, c.count, c.rows, c.cfg, c.batch, c.latentHeight, c.latentWidth])).toEqual(
      [0, 1, 2, 3].map((i) => [i, 4, 2, true, 4, 8, 8]),
    );
    for (const [index, single] of [cat, dog].entries()) {
      const alone = await pipeline.denoise({ ...request, rows: [single] });
      expectLatentsClose(row(together.latents, index, 2), alone.latents);
    }
  });

  test('with every guidance exactly 1 only the conditional rows run', async () => {
    const calls: { cfg: boolean; batch: number }[] = [];
    const result = await pipeline.denoise({
      ...small,
      rows: [{ ...cat, guidance: 1 }, { ...dog, guidance: 1 }],
      controller: { unetFeeds: ({ cfg, batch }) => (calls.push({ cfg, batch }), {}) },
    });
    // PNDM (the model's own scheduler) makes steps + 1 UNet calls.
    expect(calls).toEqual(Array(5).fill({ cfg: false, batch: 2 }));
    expect(result.sampler).toBe('pndm');
    expect(result.timings.unetCalls).toBe(5);
  });

  test('a row of guidance exactly 1 runs without an uncond row beside guided rows, each still its single-row run', async () => {
    const plainDog = { ...dog, guidance: 1 };
    const calls: UNetCall[] = [];
    const request: DenoiseRequest = { ...small, sampler: 'euler-a', rows: [plainDog, cat] };
    const together = await pipeline.denoise({ ...request, controller: { unetFeeds: (call) => (calls.push(call), {}) } });
    // [uncond of row 1, cond row 0, cond row 1]
    expect(calls.map((c) => [c.cfg, c.uncondRows, c.batch])).toEqual(Array(4).fill([true, [1], 3]));
    for (const [index, single] of [plainDog, cat].entries()) {
      const alone = await pipeline.denoise({ ...request, rows: [single] });
      expectLatentsClose(row(together.latents, index, 2), alone.latents);
    }
  });

  test('recordTrajectory keeps one row at the start and after every step; startLatents replaces the seed noise', async () => {
    const request: DenoiseRequest = { ...small, sampler: 'ddim', rows: [cat, dog] };
    const recorded = await pipeline.denoise({ ...request, recordTrajectory: 1 });
    const size = 4 * 8 * 8;
    expect(recorded.trajectory!.shape).toEqual([5, 4, 8, 8]);
    expect(recorded.trajectory!.data.subarray(4 * size)).toEqual(row(recorded.latents, 1, 2));
    // Restarting from entry 2 of the trajectory is a different run; from entry 0 (the seed noise) the same one.
    const fromStart = await pipeline.denoise({ ...request, startLatents: recorded.trajectory!.data.subarray(0, size) });
    expect(fromStart.latents).toEqual(recorded.latents);
    const fromLater = await pipeline.denoise({ ...request, startLatents: recorded.trajectory!.data.subarray(2 * size, 3 * size) });
    expect(fromLater.latents).not.toEqual(recorded.latents);
    await expect(pipeline.denoise({ ...request, startLatents: new Float32Array(3) })).rejects.toMatchObject({ code: 'bad_input' });
  });

  test("a controller's afterStep may replace the latents", async () => {
    const result = await pipeline.denoise({
      ...small,
      sampler: 'ddim',
      rows: [cat, dog],
      controller: {
        afterStep(_call, latents, latentSize) {
          const replaced = latents.slice();
          replaced.copyWithin(latentSize, 0, latentSize); // every row becomes row 0
          return replaced;
        },
      },
    });
    expect(Array.from(row(result.latents, 1, 2))).toEqual(Array.from(row(result.latents, 0, 2)));
  });

  test('reports progress after every UNet call and stops between steps when cancelled', async () => {
    const seen: { step: number; total: number }[] = [];
    const run = pipeline.denoise({
      ...small,
      sampler: 'ddim',
      rows: [cat],
      onProgress: (p) => {
        expect(p.elapsedMs).toBeGreaterThan(0);
        expect(p.etaMs).toBeGreaterThanOrEqual(0);
        seen.push({ step: p.step, total: p.total });
      },
      shouldCancel: () => seen.length === 2,
    });
    await expect(run).rejects.toEqual(expect.objectContaining({ code: 'cancelled' }));
    expect(seen).toEqual([
      { step: 1, total: 4 },
      { step: 2, total: 4 },
    ]);
  });
});

describe('imagine', () => {
  test('reports truncated tokens, returns a PNG of the requested size, and latents only when asked', async () => {
    const words = Array.from({ length: 80 }, (_, i) => `word${i}`).join(' ');
    const result = await pipeline.imagine({
      kind: 'imagine',
      params: { prompt: words, negativePrompt: '', seed: '5', steps: 2, guidance: 4, width: 64, height: 128, sampler: 'euler' },
    });
    expect(result.truncated.length).toBeGreaterThan(0);
    expect(pipeline.tokenizer.encodePadded(words).truncated).toEqual(result.truncated);
    expect(result.latents).toBeUndefined();
    expect(result.params).toEqual(expect.objectContaining({ seed: '5', sampler: 'euler' }));
    const png = await decodePng(result.image.png);
    expect([png.width, png.height]).toEqual([64, 128]);
    expect(result.timings.vaeMs).toBeGreaterThan(0);
    expect(result.timings.totalMs).toBeGreaterThanOrEqual(result.timings.unetMs + result.timings.vaeMs);
  });
});
