/** Helpers for the engine tests: the reference txt2img cases, loading the tiny pipeline, and tolerance checks. */
import { expect } from '@jest/globals';
import sharp from 'sharp';
import { readNpyFloat32 } from '../src/engine/npy.js';
import type { ImagineParams } from '../src/engine/jobs.js';
import type { PipelineOptions } from '../src/engine/pipeline.js';
import { REFERENCE_SAMPLERS } from './schedulers-reference.js';
import { maxAbs, maxAbsDiff, meanAbsDiff, referenceCases, referencePath } from './helpers.js';

export interface ReferenceArray {
  file: string;
  shape: number[];
}

export interface Txt2ImgCase {
  id: string;
  scheduler: string;
  prompt: string;
  negative_prompt?: string | null;
  guidance_scale: number;
  steps: number;
  height: number;
  width: number;
  seed: number;
  final_latents: ReferenceArray;
  image_png: string;
  latents_after_each_step?: ReferenceArray;
  prompt_embeds_cond?: ReferenceArray;
  prompt_embeds_uncond?: ReferenceArray;
  vae_decoder_output?: ReferenceArray;
}

interface Cases {
  txt2img: { cases: Txt2ImgCase[] };
  true_cfg: { cases: Txt2ImgCase[] };
}

export const txt2imgCases = (): Txt2ImgCase[] => referenceCases<Cases>().txt2img.cases;
export const trueCfgCases = (): Txt2ImgCase[] => referenceCases<Cases>().true_cfg.cases;

export function caseParams(c: Txt2ImgCase): ImagineParams {
  return {
    prompt: c.prompt,
    negativePrompt: c.negative_prompt ?? '',
    seed: String(c.seed),
    steps: c.steps,
    guidance: c.guidance_scale,
    width: c.width,
    height: c.height,
    sampler: REFERENCE_SAMPLERS[c.scheduler],
  };
}

/** One ORT thread per session: jest runs two test files at once on a small machine. */
export const TEST_SESSIONS: PipelineOptions = { intraOpThreads: 1, interOpThreads: 1 };

export function readReference(array: ReferenceArray): Float32Array {
  return readNpyFloat32(referencePath(array.file)).data;
}

/** The README's latent tolerance: max abs ≤ 1e-4·max|ref|, mean abs ≤ 1e-5·max|ref|. */
export function expectLatentsClose(actual: Float32Array, reference: Float32Array): void {
  const scale = maxAbs(reference);
  expect(maxAbsDiff(actual, reference)).toBeLessThanOrEqual(1e-4 * scale);
  expect(meanAbsDiff(actual, reference)).toBeLessThanOrEqual(1e-5 * scale);
}

export async function decodePng(png: Uint8Array | string): Promise<{ data: Uint8Array; width: number; height: number }> {
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  expect(info.channels).toBe(3);
  return { data, width: info.width, height: info.height };
}

/** The README's image tolerance: every channel value within ±2 levels, at most 1 % of pixels differing. */
export async function expectPngClose(png: Uint8Array, referencePng: string): Promise<void> {
  const actual = await decodePng(png);
  const reference = await decodePng(referencePath(referencePng));
  expect([actual.width, actual.height]).toEqual([reference.width, reference.height]);
  expect(maxAbsDiff(actual.data, reference.data)).toBeLessThanOrEqual(2);
  let differing = 0;
  for (let p = 0; p < actual.data.length; p += 3) {
    if (actual.data[p] !== reference.data[p] || actual.data[p + 1] !== reference.data[p + 1] || actual.data[p + 2] !== reference.data[p + 2]) {
      differing++;
    }
  }
  expect(differing / (actual.width * actual.height)).toBeLessThanOrEqual(0.01);
}

/** Cases that take several times longer than a 20-step 256×256 run (more steps or more pixels). */
export const isLargeCase = (c: Txt2ImgCase): boolean => c.steps > 20 || c.width * c.height > 256 * 256;
