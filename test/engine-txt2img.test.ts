/**
 * Text-to-image against diffusers' StableDiffusionPipeline on the tiny model (20-step 256×256 cases; the larger
 * ones are in engine-txt2img-large). Cases with 0 < g < 1 or g < 0 are stock-diffusers behaviour, which this
 * project changes on purpose: see engine-truecfg.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { DenoiseController } from '../src/engine/controller.js';
import { readPngText } from '../src/engine/image.js';
import { StableDiffusionPipeline } from '../src/engine/pipeline.js';
import { caseParams, expectLatentsClose, expectPngClose, isLargeCase, readReference, TEST_SESSIONS, txt2imgCases, type Txt2ImgCase } from './engine-helpers.js';
import { maxAbsDiff, tinyModelDir } from './helpers.js';

/** Our guidance semantics agree with stock diffusers at g ≥ 1 (at exactly 1 both skip the unconditional branch). */
const sameSemantics = (c: Txt2ImgCase): boolean => c.guidance_scale >= 1;
const cases = txt2imgCases().filter((c) => sameSemantics(c) && !isLargeCase(c));
const detailed = cases.find((c) => c.latents_after_each_step)!;

let pipeline: StableDiffusionPipeline;
beforeAll(async () => {
  pipeline = await StableDiffusionPipeline.load(tinyModelDir, TEST_SESSIONS);
});
afterAll(() => pipeline?.release());

describe('txt2img matches diffusers', () => {
  test.each(cases.filter((c) => c !== detailed).map((c) => [c.id, c] as const))('%s', async (_id, c) => {
    const result = await pipeline.imagine({ kind: 'imagine', params: caseParams(c), returnLatents: true });
    expectLatentsClose(result.latents!.data, readReference(c.final_latents));
    await expectPngClose(result.image.png, c.image_png);
  });

  test(`${detailed.id}: embeddings, every step, the VAE output, the PNG and its parameters`, async () => {
    const embeddings = await pipeline.textEncoder.encode([
      pipeline.tokenizer.encodePadded(detailed.prompt).ids,
      pipeline.tokenizer.encodePadded('').ids,
    ]);
    const rowSize = embeddings.data.length / 2;
    expect(maxAbsDiff(embeddings.data.subarray(0, rowSize), readReference(detailed.prompt_embeds_cond!))).toBeLessThanOrEqual(1e-5);
    expect(maxAbsDiff(embeddings.data.subarray(rowSize), readReference(detailed.prompt_embeds_uncond!))).toBeLessThanOrEqual(1e-5);

    const steps: Float32Array[] = [];
    const calls: { index: number; count: number; cfg: boolean; batch: number }[] = [];
    const controller: DenoiseController = {
      afterStep(call, latents) {
        steps.push(latents.slice());
        calls.push({ index: call.index, count: call.count, cfg: call.cfg, batch: call.batch });
      },
    };
    const progress: number[] = [];
    const params = caseParams(detailed);
    const result = await pipeline.imagine(
      { kind: 'imagine', params, returnLatents: true },
      { controller, onProgress: (p) => progress.push(p.step) },
    );

    const reference = readReference(detailed.latents_after_each_step!);
    const latentSize = reference.length / steps.length;
    expect(steps.length * latentSize).toBe(reference.length);
    steps.forEach((latents, i) => expectLatentsClose(latents, reference.subarray(i * latentSize, (i + 1) * latentSize)));
    expect(calls.map((c) => c.index)).toEqual(steps.map((_, i) => i));
    expect(calls.every((c) => c.count === steps.length && c.cfg && c.batch === 2)).toBe(true);
    // Progress counts the user's steps (PNDM's doubled first step reports once), the controller every UNet call.
    expect(progress).toEqual(Array.from({ length: params.steps }, (_, i) => i + 1));
    expect(result.timings.unetCalls).toBe(steps.length);

    const finalLatents = readReference(detailed.final_latents);
    expectLatentsClose(result.latents!.data, finalLatents);
    const scaled = finalLatents.map((x) => x / Math.fround(pipeline.model.scalingFactor));
    const vae = await pipeline.vaeDecoder.decode(scaled, [1, 4, detailed.height / 8, detailed.width / 8]);
    expect(maxAbsDiff(vae.data, readReference(detailed.vae_decoder_output!))).toBeLessThanOrEqual(1e-4);

    await expectPngClose(result.image.png, detailed.image_png);
    expect(result.params.sampler).toBe('pndm');
    expect(readPngText(result.image.png).parameters).toBe(
      `${params.prompt}\nSteps: ${params.steps}, Sampler: PNDM, CFG scale: ${params.guidance}, Seed: ${params.seed}, ` +
        `Size: ${params.width}x${params.height}, Model: tiny-sd15`,
    );
  });
});
