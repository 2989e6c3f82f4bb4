/**
 * Direct-Inversion Prompt-to-Prompt edits (Ju et al. 2024) against the reference (the community
 * Prompt2PromptPipeline with the source row overwritten by the DDIM inversion trajectory after every step): the
 * edit path replays the reference's own inversion trajectories (swap, refinement, LocalBlend), so only the edit is
 * under test here; the engine's inversion produces such trajectories itself.
 */
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import type { StableDiffusionPipeline } from '../src/engine/pipeline.js';
import type { Trajectory } from '../src/engine/trajectory.js';
import type { PatchedUNetMeta } from '../src/p2p/graph/contract.js';
import type { EditJob } from '../src/p2p/jobs.js';
import { AttentionController } from '../src/p2p/runtime/attention-controller.js';
import { runEdit } from '../src/p2p/runtime/edit-runner.js';
import { expectLatentsClose, expectPngClose, readReference, type ReferenceArray } from './engine-helpers.js';
import { maxAbs, maxAbsDiff, referenceCases } from './helpers.js';
import { loadPatchedPipeline } from './p2p-e2e-helpers.js';

interface InversionCase {
  id: string;
  image: string;
  prompt: string;
  steps: number;
  trajectory: ReferenceArray;
}
interface DirectInversionCase {
  id: string;
  inversion: string;
  image: string;
  height: number;
  width: number;
  steps: number;
  guidance_scale: number;
  prompts: [string, string];
  cross_attention_kwargs: { n_cross_replace: number; n_self_replace: number; local_blend_words?: string[] };
  final_latents: ReferenceArray;
  images_png: [string, string];
}
interface Cases {
  inversion: {
    vae_mean: { image: string; roundtrip_png: string }[];
    ddim_inversion: InversionCase[];
    direct_inversion_p2p: DirectInversionCase[];
  };
}

const { inversion } = referenceCases<Cases>();

/** The reference inversion (trajectory[0] = z0 … trajectory[N] = z*_T) in our order: entry 0 = z*_T, entry N = z0. */
function denoisingOrder(c: InversionCase): Trajectory {
  const inverted = readReference(c.trajectory);
  const [entries, channels, h, w] = c.trajectory.shape as [number, number, number, number];
  const size = channels * h * w;
  const data = new Float32Array(inverted.length);
  for (let k = 0; k < entries; k++) data.set(inverted.subarray((entries - 1 - k) * size, (entries - k) * size), k * size);
  return { data, shape: [entries, channels, h, w] };
}

function editJob(c: DirectInversionCase, trajectory: Trajectory): EditJob {
  const kw = c.cross_attention_kwargs;
  return {
    kind: 'edit',
    sourceImage: true,
    returnLatents: true,
    sourceTrajectory: trajectory,
    params: {
      // The seed does not matter: DDIM with eta 0 draws no noise, and every row starts from the trajectory.
      source: { prompt: c.prompts[0], negativePrompt: '', seed: '0', steps: c.steps, guidance: c.guidance_scale, width: c.width, height: c.height, sampler: 'ddim' },
      edit: c.prompts[1],
      blend: kw.local_blend_words,
      cross: kw.n_cross_replace,
      self: kw.n_self_replace,
    },
  };
}

let pipeline: StableDiffusionPipeline;
let meta: PatchedUNetMeta;

beforeAll(async () => {
  ({ pipeline, meta } = await loadPatchedPipeline());
});
afterAll(async () => pipeline?.release());

describe.each(inversion.direct_inversion_p2p.map((c) => [c.id, c] as const))('%s', (_id, c) => {
  test('matches the reference edit; the source row stays on the inversion trajectory and ends on the photo', async () => {
    const inverted = inversion.ddim_inversion.find((i) => i.id === c.inversion)!;
    const trajectory = denoisingOrder(inverted);
    const [entries, channels, h, w] = trajectory.shape;
    const size = channels * h * w;

    const sourceRows: Float32Array[] = [];
    const afterStep = AttentionController.prototype.afterStep;
    const spy = jest.spyOn(AttentionController.prototype, 'afterStep').mockImplementation(function (this: AttentionController, call, latents, latentSize) {
      const out = afterStep.call(this, call, latents, latentSize) ?? latents;
      sourceRows.push(out.slice(0, latentSize));
      return out;
    });
    const run = jest.spyOn(pipeline.unet, 'run');
    let result;
    try {
      result = await runEdit({ pipeline, meta }, editJob(c, trajectory));
      expect(run.mock.calls.map(([input]) => input.dims[0])).toEqual(Array(c.steps).fill(3));
    } finally {
      spy.mockRestore();
      run.mockRestore();
    }
    expect(result.sourceFrom).toBe('trajectory');

    // ‖z_src − z*‖ ≤ 1e-5·max at every step (entry k + 1 after step k).
    expect(sourceRows).toHaveLength(entries - 1);
    sourceRows.forEach((row, k) => {
      const expected = trajectory.data.subarray((k + 1) * size, (k + 2) * size);
      expect(maxAbsDiff(row, expected)).toBeLessThanOrEqual(1e-5 * maxAbs(expected));
    });

    const reference = readReference(c.final_latents);
    expectLatentsClose(result.latents!.data, reference.subarray(size));
    await expectPngClose(result.image.png, c.images_png[1]);
    await expectPngClose(result.source!.png, c.images_png[0]);
    // The source ends on z0, the photo's VAE mean: the source image is the photo's VAE round trip.
    const roundTrip = inversion.vae_mean.find((v) => v.image === c.image)!.roundtrip_png;
    await expectPngClose(result.source!.png, roundTrip);
  });
});
