/**
 * The txt2img reference cases with more steps (see engine-txt2img for the 20-step 256×256 ones), in a file of their
 * own so that jest runs them beside the others. The 512×512 case is in reference-512.test.ts.
 */
import { afterAll, beforeAll, describe, test } from '@jest/globals';
import { StableDiffusionPipeline } from '../src/engine/pipeline.js';
import { caseParams, expectLatentsClose, expectPngClose, isLargeCase, readReference, TEST_SESSIONS, txt2imgCases } from './engine-helpers.js';
import { tinyModelDir } from './helpers.js';

/** g ≥ 1: where our guidance semantics agree with stock diffusers. */
const cases = txt2imgCases().filter((c) => c.guidance_scale >= 1 && isLargeCase(c) && c.width * c.height <= 256 * 256);

let pipeline: StableDiffusionPipeline;
beforeAll(async () => {
  pipeline = await StableDiffusionPipeline.load(tinyModelDir, TEST_SESSIONS);
});
afterAll(() => pipeline?.release());

describe('txt2img matches diffusers (long and large cases)', () => {
  test.each(cases.map((c) => [c.id, c] as const))('%s', async (_id, c) => {
    const result = await pipeline.imagine({ kind: 'imagine', params: caseParams(c), returnLatents: true });
    expectLatentsClose(result.latents!.data, readReference(c.final_latents));
    await expectPngClose(result.image.png, c.image_png);
  });
});
