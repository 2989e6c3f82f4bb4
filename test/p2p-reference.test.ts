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
import type { EditJob } from '../src/p2p/jobs.js';
import { runEdit } from '../src/p2p/runtime/edit-runner.js';
import { expectLatentsClose, expectPngClose, readReference, TEST_SESSIONS, type ReferenceArray } from './engine-helpers.js';
import { referenceCases, tinyModelDir } from './helpers.js';
import { REFERENCE_SAMPLERS } from './schedulers-reference.js';

interface P2PCase {
  id: string;
  scheduler: string;
  prompts: [string, string];
  cross_attention_kwargs: { n_cross_replace: number; n_self_replace: number; equalizer_words?: string[]; equalizer_strengths?: number[]; local_blend_words?: string[] };
  final_latents: ReferenceArray;
  images_png: [string, string];
}
interface P2PCases {
  p2p: { seed: number; height: number; width: number; steps: number; guidance_scale: number; cases: P2PCase[] };
}

const reference = referenceCases<P2PCases>().p2p;

/** The reference case as one of our edit jobs: the edit is the full target prompt, weights and blend words as options. */
export function referenceEditJob(c: P2PCase, size = { width: reference.width, height: reference.height }): EditJob {
  const kw = c.cross_attention_kwargs;
  return {
    kind: 'edit',
    sourceImage: true,
    returnLatents: true,
    params: {
      source: {
        prompt: c.prompts[0],
        negativePrompt: '',
        seed: String(reference.seed),
        steps: reference.steps,
        guidance: reference.guidance_scale,
        sampler: REFERENCE_SAMPLERS[c.scheduler],
        ...size,
      },
      edit: c.prompts[1] === c.prompts[0] ? '' : c.prompts[1],
      weights: kw.equalizer_words?.map((word, i) => ({ word, weight: kw.equalizer_strengths![i] })),
      blend: kw.local_blend_words,
      cross: kw.n_cross_replace,
      self: kw.n_self_replace,
    },
  };
}

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
