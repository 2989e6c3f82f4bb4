/**
 * Guidance below 1 and negative guidance, as this project means them: classifier-free guidance at every scale.
 * The true_cfg references were made with guidance forced on; the txt2img cases with such scales are stock diffusers
 * (conditional prompt only), which our runs must NOT reproduce.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { StableDiffusionPipeline } from '../src/engine/pipeline.js';
import { caseParams, expectLatentsClose, expectPngClose, readReference, TEST_SESSIONS, trueCfgCases, txt2imgCases } from './engine-helpers.js';
import { maxAbs, maxAbsDiff, tinyModelDir } from './helpers.js';

const stockBelowOne = txt2imgCases().filter((c) => c.guidance_scale < 1);

let pipeline: StableDiffusionPipeline;
beforeAll(async () => {
  pipeline = await StableDiffusionPipeline.load(tinyModelDir, TEST_SESSIONS);
});
afterAll(() => pipeline?.release());

describe('guidance at every scale', () => {
  test.each(trueCfgCases().map((c) => [c.id, c] as const))('%s matches the forced-CFG reference', async (_id, c) => {
    const result = await pipeline.imagine({ kind: 'imagine', params: caseParams(c), returnLatents: true });
    expectLatentsClose(result.latents!.data, readReference(c.final_latents));
    await expectPngClose(result.image.png, c.image_png);
  });

  test.each(stockBelowOne.map((c) => [c.id, c] as const))('%s is not the conditional-only result of stock diffusers', async (_id, c) => {
    const result = await pipeline.imagine({ kind: 'imagine', params: caseParams(c), returnLatents: true });
    const conditionalOnly = readReference(c.final_latents);
    // 100× the tolerance for "the same run": guidance really changed the result.
    expect(maxAbsDiff(result.latents!.data, conditionalOnly)).toBeGreaterThan(1e-2 * maxAbs(conditionalOnly));
  });
});
