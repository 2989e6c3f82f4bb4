/**
 * The 512×512 reference cases, in one file so that jest never runs two of them at once: a 64×64 latent's
 * self-attention is 4096×4096 per head, and one batch-4 UNet call peaks at several GB.
 *
 * txt2img `dpmpp_2m_karras_512_city`, then LocalBlend (cases.json p2p `replace_localblend_512_cat_dog`), the size at
 * which the reference reads its 16×16 maps as intended: the final latents and images, and the normalised map and
 * mask after every UNet call.
 *
 * With random weights the attention is nearly uniform, so every mask is all ones (the README says so): the
 * normalised maps are where the blend's arithmetic is really compared.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { StableDiffusionPipeline } from '../src/engine/pipeline.js';
import { parseEdit } from '../src/p2p/edit/language.js';
import type { PatchedUNetMeta } from '../src/p2p/graph/contract.js';
import { encodePng } from '../src/engine/image.js';
import { caseParams, expectLatentsClose, expectPngClose, readReference, TEST_SESSIONS, txt2imgCases, type ReferenceArray } from './engine-helpers.js';
import { maxAbsDiff, referenceCases, tinyModelDir } from './helpers.js';
import { denoiseEdit, latentRow, loadPatchedPipeline, type ControlledEditResult } from './p2p-e2e-helpers.js';

interface LocalBlend512Case {
  id: string;
  prompts: [string, string];
  cross_attention_kwargs: { n_cross_replace: number; n_self_replace: number; local_blend_words: string[] };
  unet_calls: number;
  height: number;
  width: number;
  final_latents: ReferenceArray;
  images_png: [string, string];
  effective: { local_blend: { threshold: number; normalized_map_each_call: ReferenceArray; mask_each_call: ReferenceArray } };
}
interface P2PCases {
  p2p: { seed: number; steps: number; guidance_scale: number; cases: LocalBlend512Case[] };
}

const reference = referenceCases<P2PCases>().p2p;
const c = reference.cases.find((x) => x.id === 'replace_localblend_512_cat_dog')!;

describe('txt2img at 512×512 matches diffusers', () => {
  const large = txt2imgCases().filter((t) => t.width * t.height > 256 * 256 && t.guidance_scale >= 1);
  let plain: StableDiffusionPipeline;
  beforeAll(async () => {
    plain = await StableDiffusionPipeline.load(tinyModelDir, { ...TEST_SESSIONS, intraOpThreads: 2 });
  });
  afterAll(async () => plain?.release());

  test.each(large.map((t) => [t.id, t] as const))('%s', async (_id, t) => {
    const result = await plain.imagine({ kind: 'imagine', params: caseParams(t), returnLatents: true });
    expectLatentsClose(result.latents!.data, readReference(t.final_latents));
    await expectPngClose(result.image.png, t.image_png);
  });
});

describe('LocalBlend at 512×512 matches the reference', () => {
  let pipeline: StableDiffusionPipeline;
  let meta: PatchedUNetMeta;
  let run: ControlledEditResult;

  beforeAll(async () => {
    // Two ORT threads: this one run takes minutes on one (a 64×64 latent's self-attention is 16× that of 32×32).
    ({ pipeline, meta } = await loadPatchedPipeline({ intraOpThreads: 2, interOpThreads: 1 }));
    const kw = c.cross_attention_kwargs;
    const source = {
      prompt: c.prompts[0],
      negativePrompt: '',
      seed: String(reference.seed),
      steps: reference.steps,
      guidance: reference.guidance_scale,
      width: c.width,
      height: c.height,
      sampler: 'ddim' as const,
    };
    const edit = parseEdit({ source: c.prompts[0], edit: c.prompts[1], blend: kw.local_blend_words });
    run = await denoiseEdit(pipeline, meta, source, {
      edit,
      cross: kw.n_cross_replace,
      self: kw.n_self_replace,
      blend: { threshold: c.effective.local_blend.threshold },
    });
  }, 600_000);
  afterAll(async () => pipeline?.release());

  test('the final latents and both images match the reference', async () => {
    const expected = readReference(c.final_latents);
    const size = expected.length / 2;
    for (const row of [0, 1]) {
      expectLatentsClose(latentRow(run, row), expected.subarray(row * size, (row + 1) * size));
    }
    const images = await pipeline.decode(run.latents, run.shape);
    for (const row of [0, 1]) await expectPngClose(await encodePng(images[row]), c.images_png[row]);
  });

  test('the normalised maps and the masks of every UNet call match the reference', () => {
    const normalized = readReference(c.effective.local_blend.normalized_map_each_call); // [calls, 2, 1, 64, 64]
    const masks = readReference(c.effective.local_blend.mask_each_call); // [calls, 1, 1, 64, 64]
    expect(run.masks).toHaveLength(c.unet_calls);
    const perCall = normalized.length / c.unet_calls;
    const maskSize = masks.length / c.unet_calls;
    run.masks.forEach((m, call) => {
      expect(maxAbsDiff(m.normalized, normalized.subarray(call * perCall, (call + 1) * perCall))).toBeLessThanOrEqual(1e-4);
      expect(maxAbsDiff(m.masks, masks.subarray(call * maskSize, (call + 1) * maskSize))).toBe(0);
    });
  });
});
