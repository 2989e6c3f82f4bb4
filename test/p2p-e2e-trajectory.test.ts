/**
 * Edits that replay the source's trajectory (the source row runs cond only and is put back on its recorded latents
 * after every step) give the same image as the full edit, whose source row runs with its own guidance pair: for
 * the reference P2P cases (word swap, refinement, re-weighting, LocalBlend, DDIM and PNDM) and for every sampler.
 * They run 3 UNet rows instead of 4.
 */
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import type { ImagineParams } from '../src/engine/jobs.js';
import type { StableDiffusionPipeline } from '../src/engine/pipeline.js';
import { SAMPLER_NAMES } from '../src/engine/schedulers/scheduler.js';
import type { Trajectory } from '../src/engine/trajectory.js';
import { parseEdit } from '../src/p2p/edit/language.js';
import type { PatchedUNetMeta } from '../src/p2p/graph/contract.js';
import type { EditJob, EditResult } from '../src/p2p/jobs.js';
import { runEdit } from '../src/p2p/runtime/edit-runner.js';
import { expectLatentsClose, expectPngClose, readReference } from './engine-helpers.js';
import { maxAbsDiff } from './helpers.js';
import { denoiseEdit, editJob, expectSameImage, expectSamePartialMasks, latentRow, loadPatchedPipeline, smallSource } from './p2p-e2e-helpers.js';
import { reference, referenceEditJob } from './p2p-reference-helpers.js';

let pipeline: StableDiffusionPipeline;
let meta: PatchedUNetMeta;

beforeAll(async () => {
  ({ pipeline, meta } = await loadPatchedPipeline());
});
afterAll(async () => pipeline?.release());

/** The source's trajectory as a plain generation of it records it. */
async function plainTrajectory(source: ImagineParams): Promise<{ trajectory: Trajectory; latents: Float32Array }> {
  const result = await pipeline.imagine({ kind: 'imagine', params: source, returnTrajectory: true, returnLatents: true });
  return { trajectory: result.trajectory!, latents: result.latents!.data };
}

/** Runs the edit and returns it with the UNet batch size of every call. */
async function editCountingRows(job: EditJob): Promise<{ result: EditResult; batches: number[] }> {
  const run = jest.spyOn(pipeline.unet, 'run');
  try {
    const result = await runEdit({ pipeline, meta }, job);
    return { result, batches: run.mock.calls.map(([input]) => input.dims[0]) };
  } finally {
    run.mockRestore();
  }
}

describe('a plain generation records its trajectory', () => {
  test.each([['ddim', 6], ['pndm', 7]] as const)('%s: start latents, then one entry per UNet call ending on the final latents', async (sampler, calls) => {
    const source = smallSource({ sampler });
    const { trajectory, latents } = await plainTrajectory(source);
    const size = latents.length;
    expect(trajectory.shape).toEqual([calls + 1, 4, 16, 16]);
    expect(trajectory.data.subarray(calls * size)).toEqual(latents);
    // Entry 0 is the seed's noise (× init_noise_sigma = 1 for these samplers), the same for any prompt.
    const other = await plainTrajectory({ ...source, prompt: 'a house' });
    expect(other.trajectory.data.subarray(0, size)).toEqual(trajectory.data.subarray(0, size));
    expect(maxAbsDiff(other.trajectory.data.subarray(size, 2 * size), trajectory.data.subarray(size, 2 * size))).toBeGreaterThan(0);
  });
});

describe('reference P2P cases, replayed from the source trajectory', () => {
  const cases = reference.cases.filter((c) => !c.id.includes('512'));
  test.each(cases.map((c) => [c.id, c] as const))('%s: the reference edit, with 3 UNet rows', async (_id, c) => {
    const job = referenceEditJob(c);
    const { trajectory } = await plainTrajectory(job.params.source);
    const { result, batches } = await editCountingRows({ ...job, sourceTrajectory: trajectory });
    expect(result.sourceFrom).toBe('trajectory');
    expect(result.sourceTrajectory).toBeUndefined();
    expect(batches).toEqual(Array(trajectory.shape[0] - 1).fill(3));
    const latents = readReference(c.final_latents);
    expectLatentsClose(result.latents!.data, latents.subarray(latents.length / 2));
    await expectPngClose(result.image.png, c.images_png[1]);
    await expectPngClose(result.source!.png, c.images_png[0]);
  });
});

describe.each(SAMPLER_NAMES.map((s) => [s] as const))('%s: the trajectory edit equals the full edit', (sampler) => {
  const source = smallSource({ sampler, seed: '21' });
  test('cat→dog with a re-weighting, from the trajectory of a plain generation and of the full edit', async () => {
    const job = editJob(source, 'cat→(dog:2)');
    const full = await editCountingRows(job);
    expect(full.result.sourceFrom).toBe('guided');
    expect(new Set(full.batches)).toEqual(new Set([4]));
    const recorded = full.result.sourceTrajectory!;
    const { trajectory } = await plainTrajectory(source);
    expectLatentsClose(recorded.data, trajectory.data);
    for (const t of [trajectory, recorded]) {
      const replayed = await editCountingRows({ ...job, sourceTrajectory: t });
      expect(replayed.batches).toEqual(full.batches.map(() => 3));
      expectLatentsClose(replayed.result.latents!.data, full.result.latents!.data);
      await expectSameImage(replayed.result.image.png, full.result.image.png);
      await expectSameImage(replayed.result.source!.png, full.result.source!.png);
    }
  });
});

describe('LocalBlend reads the replayed source', () => {
  test('partial masks equal the full edit’s at every step, and so do the latents', async () => {
    // As in the re-edit test: at 256² a 0.95 threshold gives partial masks on the random weights.
    const source = smallSource({ width: 256, height: 256 });
    const request = { edit: parseEdit({ source: source.prompt, edit: 'cat→dog', blend: ['cat', 'dog'] }), blend: { threshold: 0.95 } };
    const full = await denoiseEdit(pipeline, meta, source, request);
    const { trajectory } = await plainTrajectory(source);
    const replayed = await denoiseEdit(pipeline, meta, source, { ...request, trajectory });
    expectSamePartialMasks(replayed.masks, full.masks, source.steps);
    expectLatentsClose(latentRow(replayed, 1), latentRow(full, 1));
    expect(latentRow(replayed, 0)).toEqual(trajectory.data.subarray(source.steps * latentRow(full, 0).length));
  });
});

describe('a trajectory that does not fit the source', () => {
  test.each<[string, Partial<ImagineParams>]>([
    ['other steps', { steps: 5 }],
    ['another sampler with another call count', { sampler: 'pndm' }],
    ['another size', { width: 64 }],
  ])('%s: a clear message, before the UNet runs', async (_what, other) => {
    const { trajectory } = await plainTrajectory(smallSource(other));
    const run = jest.spyOn(pipeline.unet, 'run');
    try {
      await expect(runEdit({ pipeline, meta }, { ...editJob(smallSource(), 'cat→dog'), sourceTrajectory: trajectory })).rejects.toMatchObject({
        code: 'bad_input',
        message: expect.stringMatching(/source trajectory .* does not fit this run/),
      });
      expect(run).not.toHaveBeenCalled();
    } finally {
      run.mockRestore();
    }
  });
});
