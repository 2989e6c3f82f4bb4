/**
 * Start-up: the engine's default thread count, and the warm-up that runs each session at the batch sizes jobs
 * will use before the first job. Warming changes no result.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { availableParallelism } from 'node:os';
import type { ImagineJob, ImagineResult } from '../src/engine/jobs.js';
import { defaultIntraOpThreads, sessionOptions } from '../src/engine/onnx/session.js';
import { StableDiffusionPipeline } from '../src/engine/pipeline.js';
import { EngineWorker } from '../src/engine/worker/engine-worker.js';
import { tinyModelDir } from './helpers.js';
import { engineHandlersUrl } from './worker-helpers.js';

const job: ImagineJob = {
  kind: 'imagine',
  params: { prompt: 'a red fox in the snow', negativePrompt: '', seed: '7', steps: 2, guidance: 7.5, width: 64, height: 64 },
};

describe('threads', () => {
  test('by default one intra-op thread per available core; an explicit count is kept', () => {
    expect(defaultIntraOpThreads()).toBe(availableParallelism());
    expect(sessionOptions().intraOpNumThreads).toBe(availableParallelism());
    expect(sessionOptions({ intraOpThreads: 1 }).intraOpNumThreads).toBe(1);
  });
});

describe('warm-up', () => {
  let pipeline: StableDiffusionPipeline;
  beforeAll(async () => {
    pipeline = await StableDiffusionPipeline.load(tinyModelDir, { intraOpThreads: 1 });
  });
  afterAll(() => pipeline?.release());

  test('runs the plain and the edit batch and leaves results as they were', async () => {
    const cold = await pipeline.imagine(job);
    const ms = await pipeline.warmUp({ width: 64, height: 64, promptRows: [1, 2] });
    expect(ms).toBeGreaterThan(0);
    const warm = await pipeline.imagine(job);
    expect(Buffer.compare(warm.image.png, cold.image.png)).toBe(0);
  });

  test('the engine worker warms up after loading when asked, then runs jobs as usual', async () => {
    const worker = await EngineWorker.start({
      modelDir: tinyModelDir,
      pipeline: { intraOpThreads: 1, warmUp: { width: 64, height: 64 } },
      handlers: engineHandlersUrl,
    });
    try {
      const result = await worker.run<ImagineResult>(job);
      const direct = await pipeline.imagine(job);
      expect(Buffer.compare(result.image.png, direct.image.png)).toBe(0);
    } finally {
      await worker.close();
    }
  });

  test('a warm-up the model cannot run fails the worker’s start, naming the size (so it did run before ready)', async () => {
    const start = EngineWorker.start({ modelDir: tinyModelDir, pipeline: { intraOpThreads: 1, warmUp: { width: 60, height: 64 } }, handlers: engineHandlersUrl });
    await expect(start).rejects.toThrow(/Width 60 is not supported/);
  });
});
