/**
 * Source trajectories kept in the bot's database: a generation stores its trajectory, an edit of it replays the
 * source (3 UNet rows, not 4), and after a restart — a new JobStore, JobService and backend on the same database
 * file, in the same jest process — a re-edit loads the trajectory from SQLite and gives the same PNG. The backend
 * is the real engine on the bundled model (the edit runner in process instead of the worker thread).
 */
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createBotApp } from '../src/bot/app.js';
import type { BackendLimits, ImageBackend, RunOptions } from '../src/bot/backend.js';
import { silentLogger } from '../src/bot/log.js';
import { JobStore } from '../src/bot/store.js';
import { trajectoryKey } from '../src/bot/trajectories.js';
import { imagineGrid } from '../src/engine/grid.js';
import { img2img } from '../src/engine/img2img.js';
import { invertPhoto } from '../src/engine/inversion.js';
import type { ImagineGridJob, ImagineGridResult, ImagineJob, ImagineResult, Img2ImgJob, Img2ImgResult, InvertJob, InvertResult } from '../src/engine/jobs.js';
import type { StableDiffusionPipeline } from '../src/engine/pipeline.js';
import { SAMPLER_NAMES } from '../src/engine/schedulers/scheduler.js';
import type { Trajectory } from '../src/engine/trajectory.js';
import type { PatchedUNetMeta } from '../src/p2p/graph/contract.js';
import type { EditJob, EditResult } from '../src/p2p/jobs.js';
import { runEdit } from '../src/p2p/runtime/edit-runner.js';
import { interaction, press, RecordingSink, slash, tempDbPath, testSettings } from './bot-fakes.js';
import { loadPatchedPipeline } from './p2p-e2e-helpers.js';
import { referencePath } from './helpers.js';

/** The real engine behind the bot's port, in this thread. */
class PipelineBackend implements ImageBackend {
  readonly limits: BackendLimits = { maxSteps: 50, maxSize: 512, minSize: 64, sizeMultiple: 8, guidance: { min: -50, max: 50 }, samplers: SAMPLER_NAMES };
  readonly info = { model: 'tiny-sd15', provider: 'cpu', defaultSampler: 'pndm' as const };
  readonly edits: EditJob[] = [];
  readonly inversions: InvertJob[] = [];

  constructor(
    private readonly pipeline: StableDiffusionPipeline,
    private readonly meta: PatchedUNetMeta,
  ) {}

  imagine(job: ImagineJob, opts: RunOptions): Promise<ImagineResult> {
    return this.pipeline.imagine(job, { onProgress: opts.onProgress, shouldCancel: () => opts.signal.aborted });
  }

  edit(job: EditJob, opts: RunOptions): Promise<EditResult> {
    this.edits.push(job);
    return runEdit({ pipeline: this.pipeline, meta: this.meta, onProgress: opts.onProgress, shouldCancel: () => opts.signal.aborted }, job);
  }

  img2img(job: Img2ImgJob, opts: RunOptions): Promise<Img2ImgResult> {
    return img2img(this.pipeline, job, { onProgress: opts.onProgress, shouldCancel: () => opts.signal.aborted });
  }

  imagineGrid(job: ImagineGridJob, opts: RunOptions): Promise<ImagineGridResult> {
    return imagineGrid(this.pipeline, job, { onProgress: opts.onProgress, shouldCancel: () => opts.signal.aborted });
  }

  invert(job: InvertJob, opts: RunOptions): Promise<InvertResult> {
    this.inversions.push(job);
    return invertPhoto(this.pipeline, job, { onProgress: opts.onProgress, shouldCancel: () => opts.signal.aborted });
  }

  async close(): Promise<void> {}
}

let pipeline: StableDiffusionPipeline;
let meta: PatchedUNetMeta;

beforeAll(async () => {
  ({ pipeline, meta } = await loadPatchedPipeline());
});
afterAll(async () => pipeline?.release());

const draw = { prompt: 'a cat riding a bicycle', seed: '8', steps: 6, width: 128, height: 128, sampler: 'ddim' };
const editModal = (jobId: number, edit: string) =>
  interaction<'modal'>({ kind: 'modal', customId: `edit-modal:${jobId}`, fields: { edit, cross: '', self: '', blend: '' } });

/** UNet batch sizes of the calls made while `action` runs. */
async function unetBatches(action: () => Promise<void>): Promise<number[]> {
  const run = jest.spyOn(pipeline.unet, 'run');
  try {
    await action();
    return run.mock.calls.map(([input]) => input.dims[0]);
  } finally {
    run.mockRestore();
  }
}

const pngOf = (sink: RecordingSink, jobId: number): Uint8Array => {
  const attachments = sink.messageOfJob(jobId).message.attachments ?? [];
  expect(attachments.length).toBeGreaterThan(0);
  return attachments[0].data;
};

describe('source trajectories in the bot database', () => {
  test('an edit after a restart replays the stored trajectory (3 UNet rows) and gives the same PNG', async () => {
    const settings = testSettings();
    const sink = new RecordingSink();
    const app = (backend: ImageBackend) => createBotApp({ settings, backend, sink, log: silentLogger, messageContent: false });

    const before = app(new PipelineBackend(pipeline, meta));
    const plain = await unetBatches(async () => {
      await before.router.handle(slash('imagine', draw));
      await before.jobs.idle();
    });
    expect(before.store.get(1)!.status).toBe('done');
    expect(plain).toEqual(Array(draw.steps).fill(2));
    expect(before.store.trajectoryStats()).toEqual({ entries: 1, bytes: (draw.steps + 1) * 4 * 16 * 16 * 4 });

    const firstEdit = await unetBatches(async () => {
      await before.router.handle(press('edit:1', sink.messageOfJob(1).ref));
      await before.router.handle(editModal(1, 'cat→dog'));
      await before.jobs.idle();
    });
    expect(before.store.get(2)).toMatchObject({ parentId: 1, status: 'done' });
    expect(firstEdit).toEqual(Array(draw.steps).fill(3));
    const firstPng = pngOf(sink, 2);
    await before.close();

    const backend = new PipelineBackend(pipeline, meta);
    const after = app(backend);
    const reEdit = await unetBatches(async () => {
      await after.router.handle(press('edit:1', sink.messageOfJob(1).ref));
      await after.router.handle(editModal(1, 'cat→dog'));
      await after.jobs.idle();
    });
    expect(after.store.get(3)).toMatchObject({ parentId: 1, status: 'done' });
    expect(reEdit).toEqual(Array(draw.steps).fill(3));
    expect(backend.edits[0].sourceTrajectory?.shape).toEqual([draw.steps + 1, 4, 16, 16]);
    expect(Buffer.from(pngOf(sink, 3)).equals(Buffer.from(firstPng))).toBe(true);
    // The trajectory rides with the run only: the stored request stays plain JSON without it.
    expect(after.store.get(3)!.request).not.toHaveProperty('sourceTrajectory');
    await after.close();
  });
});

describe('a user’s picture through the bot, on the real engine', () => {
  test('/edit photo: inverts it (batch 1) then edits it (3 rows); a re-edit after a restart replays the kept inversion (3 rows) and gives the PNG it gave before', async () => {
    const photo = readFileSync(referencePath('inversion/photo_256x192.png'));
    const server = createServer((_req, res) => void res.writeHead(200, { 'content-type': 'image/png' }).end(photo));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/photo.png`;
      const settings = testSettings();
      const sink = new RecordingSink();
      const app = (backend: ImageBackend) => createBotApp({ settings, backend, sink, log: silentLogger, messageContent: false });
      const steps = settings.defaults.steps;

      const firstBackend = new PipelineBackend(pipeline, meta);
      const before = app(firstBackend);
      const first = await unetBatches(async () => {
        const ix = Object.assign(slash('edit', { edit: 'house→castle', description: 'a drawing of a house under the sun' }), {
          attachments: { photo: { name: 'photo.png', url, contentType: 'image/png', size: photo.byteLength } },
        });
        await before.router.handle(ix);
        await before.jobs.idle();
      });
      expect(before.store.get(1)).toMatchObject({ origin: 'photo-edit', status: 'done' });
      expect(first).toEqual([...Array(steps).fill(1), ...Array(steps).fill(3)]);
      expect(firstBackend.inversions[0]).toMatchObject({ width: 256, height: 192, steps });
      const reEditBefore = await unetBatches(async () => {
        await before.router.handle(press('edit:1', sink.messageOfJob(1).ref));
        await before.router.handle(editModal(1, 'sun→moon'));
        await before.jobs.idle();
      });
      expect(reEditBefore).toEqual(Array(steps).fill(3));
      const reEditPng = pngOf(sink, 2);
      await before.close();

      const backend = new PipelineBackend(pipeline, meta);
      const after = app(backend);
      const reEdit = await unetBatches(async () => {
        await after.router.handle(press('edit:1', sink.messageOfJob(1).ref));
        await after.router.handle(editModal(1, 'sun→moon'));
        await after.jobs.idle();
      });
      expect(after.store.get(3)).toMatchObject({ parentId: 1, status: 'done' });
      expect(reEdit).toEqual(Array(steps).fill(3));
      expect(backend.inversions).toEqual([]);
      expect(backend.edits[0].sourceTrajectory?.shape).toEqual([steps + 1, 4, 24, 32]);
      expect(Buffer.from(pngOf(sink, 3)).equals(Buffer.from(reEditPng))).toBe(true);
      await after.close();
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

describe('the trajectory table', () => {
  const trajectory = (fill: number, entries = 3): Trajectory => ({ data: new Float32Array(entries * 4 * 2 * 2).fill(fill), shape: [entries, 4, 2, 2] });
  const bytes = 3 * 4 * 2 * 2 * 4;

  test('round-trips float32 exactly and survives reopening the file', () => {
    const path = tempDbPath();
    const store = new JobStore(path);
    const t: Trajectory = { data: Float32Array.from({ length: 48 }, (_, i) => Math.fround(Math.sin(i) * 1e3 + 1e-7 * i)), shape: [3, 4, 2, 2] };
    expect(store.putTrajectory('a', t, 1 << 20)).toBe(true);
    store.close();
    const reopened = new JobStore(path);
    expect(reopened.getTrajectory('a')).toEqual(t);
    expect(reopened.getTrajectory('b')).toBeUndefined();
    reopened.close();
  });

  test('evicts the least recently used beyond the byte budget; one larger than the budget is not kept', () => {
    let clock = 0;
    const store = new JobStore(':memory:', () => ++clock);
    const budget = 2 * bytes;
    store.putTrajectory('a', trajectory(1), budget);
    store.putTrajectory('b', trajectory(2), budget);
    store.getTrajectory('a'); // a is now more recently used than b
    store.putTrajectory('c', trajectory(3), budget);
    expect(store.trajectoryStats()).toEqual({ entries: 2, bytes: budget });
    expect([store.getTrajectory('a')?.data[0], store.getTrajectory('b'), store.getTrajectory('c')?.data[0]]).toEqual([1, undefined, 3]);
    expect(store.putTrajectory('big', trajectory(4, 7), budget)).toBe(false);
    expect(store.getTrajectory('big')).toBeUndefined();
    expect(store.trajectoryStats().entries).toBe(2);
    store.close();
  });

  test('the key is the model and the source parameters; the seed in any notation is one seed', () => {
    const p = { prompt: 'a cat', negativePrompt: '', seed: '8', steps: 6, guidance: 7.5, width: 128, height: 128 };
    expect(trajectoryKey('m', p)).toBe(trajectoryKey('m', { ...p, seed: '08' }));
    expect(trajectoryKey('m', p)).not.toBe(trajectoryKey('other', p));
    expect(trajectoryKey('m', p)).not.toBe(trajectoryKey('m', { ...p, guidance: 7 }));
  });
});
