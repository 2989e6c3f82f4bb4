/** EngineWorker: jobs on the bundled model in a worker thread, progress, cancellation, crashes, load errors. */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ImagineJob, ImagineResult, StepProgress } from '../src/engine/jobs.js';
import { readPngText } from '../src/engine/image.js';
import { EngineWorker } from '../src/engine/worker/engine-worker.js';
import { tinyModelDir } from './helpers.js';
import { engineHandlersUrl, fixtureHandlersUrl, pngSize, smallParams } from './worker-helpers.js';

const pipeline = { intraOpThreads: 1 };
const imagineJob = (overrides: Parameters<typeof smallParams>[0] = {}): ImagineJob => ({ kind: 'imagine', params: smallParams(overrides) });

describe('EngineWorker on the bundled model', () => {
  let engine: EngineWorker;

  beforeAll(async () => {
    engine = await EngineWorker.start({ modelDir: tinyModelDir, pipeline, handlers: fixtureHandlersUrl });
  });
  afterAll(() => engine?.close());

  test('reports what it loaded, including the handler module’s kinds', () => {
    expect(engine.info.model.dir).toBe(tinyModelDir);
    expect(engine.info.model.name).toBe('tiny-sd15');
    expect(engine.info.provider).toBe('cpu');
    expect(engine.info.kinds).toEqual(expect.arrayContaining(['imagine', 'unetLoads']));
  });

  test('loads the pipeline with the handler module’s pipelineOptions()', async () => {
    expect(await engine.run<number>({ kind: 'unetLoads' })).toBe(1);
  });

  test('an imagine job returns a PNG of the requested size, with one progress event per step', async () => {
    const events: StepProgress[] = [];
    const result = await engine.run<ImagineResult>(imagineJob({ width: 128, height: 64, steps: 3 }), { onProgress: (p) => events.push(p) });
    expect(pngSize(result.image.png)).toEqual({ width: 128, height: 64 });
    expect(readPngText(result.image.png).parameters).toContain('a red fox in the snow');
    expect(events.length).toBe(3);
    expect(events.map((e) => e.step)).toEqual([1, 2, 3]);
    expect(events.every((e) => e.total === 3)).toBe(true);
  });

  test('the main event loop keeps running while the worker computes', async () => {
    // 128 px, 4 steps: ~5 UNet calls of a noticeable length. A blocked main thread would see about one tick per
    // call (between steps); a free one ticks every 5 ms or so.
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    const started = performance.now();
    await engine.run<ImagineResult>(imagineJob({ width: 128, height: 128, steps: 4 }));
    const elapsed = performance.now() - started;
    clearInterval(timer);
    expect(ticks).toBeGreaterThanOrEqual(Math.floor((0.25 * elapsed) / 5));
    expect(ticks).toBeGreaterThan(20);
  });

  test('it keeps no queue: a job handed to it while it is busy is refused; the same seed gives the same image', async () => {
    const a = engine.run<ImagineResult>(imagineJob());
    expect(engine.busy).toBe(true);
    await expect(engine.run<ImagineResult>(imagineJob())).rejects.toMatchObject({ code: 'internal', message: expect.stringContaining('already running') });
    const first = await a;
    expect(engine.busy).toBe(false);
    const second = await engine.run<ImagineResult>(imagineJob());
    expect(Buffer.from(second.image.png).equals(Buffer.from(first.image.png))).toBe(true);
  });

  test('a job cancelled mid-run rejects with "cancelled", and the worker runs the next job', async () => {
    const controller = new AbortController();
    const steps: number[] = [];
    const job = engine.run<ImagineResult>(imagineJob({ steps: 8 }), {
      signal: controller.signal,
      onProgress: (p) => {
        steps.push(p.step);
        if (p.step === 2) controller.abort();
      },
    });
    await expect(job).rejects.toMatchObject({ name: 'UserError', code: 'cancelled' });
    expect(steps.length).toBeLessThan(9);

    const next = await engine.run<ImagineResult>(imagineJob({ steps: 2 }));
    expect(pngSize(next.image.png)).toEqual({ width: 64, height: 64 });
  });

  test('an already aborted signal rejects at once', async () => {
    await expect(engine.run(imagineJob(), { signal: AbortSignal.abort() })).rejects.toMatchObject({ code: 'cancelled' });
  });

  test('errors from the job cross as UserErrors, with their code', async () => {
    await expect(engine.run(imagineJob({ prompt: '   ' }))).rejects.toMatchObject({ name: 'UserError', code: 'bad_prompt' });
    await expect(engine.run({ kind: 'nope' })).rejects.toMatchObject({ code: 'internal', message: expect.stringContaining("'nope'") });
  });
});

describe('EngineWorker failures', () => {
  test('a bad model folder makes start() reject with UserError("model")', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'reprompt-model-'));
    try {
      await expect(EngineWorker.start({ modelDir: empty, pipeline, handlers: engineHandlersUrl })).rejects.toMatchObject({
        name: 'UserError',
        code: 'model',
      });
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  test('a worker that dies rejects its job and later ones clearly; a restarted one works', async () => {
    const options = { modelDir: tinyModelDir, pipeline, handlers: fixtureHandlersUrl };
    const crashed = await EngineWorker.start(options);
    const dying = crashed.run({ kind: 'exit' });
    await expect(dying).rejects.toMatchObject({ code: 'internal', message: expect.stringMatching(/stopped unexpectedly.*3/) });
    expect(crashed.alive).toBe(false);
    await expect(crashed.run({ kind: 'unetLoads' })).rejects.toMatchObject({ code: 'internal' });

    const restarted = await EngineWorker.start(crashed.options);
    try {
      expect(await restarted.run<number>({ kind: 'unetLoads' })).toBe(1);
      await expect(restarted.run({ kind: 'throwUncaught' })).rejects.toMatchObject({
        code: 'internal',
        message: expect.stringContaining('deliberate uncaught error'),
      });
      expect(restarted.alive).toBe(false);
    } finally {
      await restarted.close();
    }
  });
});
