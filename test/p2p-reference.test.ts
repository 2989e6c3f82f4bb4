/**
 * Prompt-to-Prompt end to end on the bundled model, against the reference implementation's edits (diffusers'
 * community Prompt2PromptPipeline on the same weights): word swap, refinement, re-weighting and local blending,
 * DDIM and PNDM, through the patched UNet and the same edit runner the worker uses.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StableDiffusionPipeline } from '../src/engine/pipeline.js';
import { AttentionPatchLoader } from '../src/p2p/graph/loader.js';
import { runEdit } from '../src/p2p/runtime/edit-runner.js';
import { expectLatentsClose, expectPngClose, readReference, TEST_SESSIONS } from './engine-helpers.js';
import { tinyModelDir } from './helpers.js';
import { reference, referenceEditJob } from './p2p-reference-helpers.js';

let pipeline: StableDiffusionPipeline;
let loader: AttentionPatchLoader;

beforeAll(async () => {
  loader = new AttentionPatchLoader({ cacheDir: mkdtempSync(join(tmpdir(), 'reprompt-p2p-cache-')) });
  pipeline = await StableDiffusionPipeline.load(tinyModelDir, { ...TEST_SESSIONS, unetLoader: loader });
});
afterAll(async () => pipeline?.release());

describe('P2P edits match the reference implementation', () => {
  const cases = reference.cases.filter((c) => !c.id.includes('512'));
  test.each(cases.map((c) => [c.id, c] as const))('%s', async (_id, c) => {
    const result = await runEdit({ pipeline, meta: loader.meta! }, referenceEditJob(c));
    const latents = readReference(c.final_latents);
    const size = latents.length / 2;
    expectLatentsClose(result.latents!.data, latents.subarray(size));
    await expectPngClose(result.image.png, c.images_png[1]);
    // The source row is untouched by the edit: it is the reference's source image.
    await expectPngClose(result.source!.png, c.images_png[0]);
    expect(result.reusedSource).toBe(false);
  });
});
