/**
 * The Redis backend and the engine worker on a real redis-server (no mock of Redis or BullMQ), with the worker's
 * engine on the bundled model: waiting for a worker, cancellation reaching the worker, jobs naming their model,
 * a bot restarted while the worker runs, and Redis restarted empty.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { readFileSync } from 'node:fs';
import type { ImagineJob, ImagineParams, ImagineResult } from '../src/engine/jobs.js';
import type { EditResult } from '../src/p2p/jobs.js';
import { createBotApp } from '../src/bot/app.js';
import type { Logger } from '../src/bot/log.js';
import { silentLogger } from '../src/bot/log.js';
import { connectRedis } from '../src/bot/remote/connect.js';
import { REDIS_PREFIX, queueNameFor } from '../src/bot/remote/protocol.js';
import { startRedisBackend } from '../src/bot/remote/redis-backend.js';
import { startRemoteWorker, type RemoteWorker } from '../src/bot/remote/worker.js';
import { alice, RecordingSink, tempDbPath, testSettings } from './bot-fakes.js';
import { referencePath, tinyModelDir } from './helpers.js';
import { startRedisServer, type RedisServer } from './redis-server.js';

const params = (overrides: Partial<ImagineParams> = {}): ImagineParams => ({
  prompt: 'a red fox on a mat',
  negativePrompt: '',
  seed: '42',
  steps: 2,
  guidance: 7.5,
  width: 64,
  height: 64,
  sampler: 'ddim',
  ...overrides,
});
const imagine = (overrides: Partial<ImagineParams> = {}): ImagineJob => ({ kind: 'imagine', params: params(overrides) });
const noProgress = (): void => {};

const lines: string[] = [];
const log: Logger = {
  info: (m) => lines.push(m),
  warn: (m) => lines.push(`warn ${m}`),
  error: (m, e) => lines.push(`error ${m} ${String(e)}`),
};
const count = (pattern: RegExp): number => lines.filter((line) => pattern.test(line)).length;

async function until(condition: () => boolean | Promise<boolean>, what: string, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

let redis: RedisServer;
let worker: RemoteWorker | undefined;
const startWorker = (name: string): Promise<RemoteWorker> =>
  startRemoteWorker({ redisUrl: redis.url, engine: { modelDir: tinyModelDir, provider: 'cpu', threads: 1, attentionStoreMb: 16 }, name, lockMs: 5000, log });

beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  await worker?.close();
  await redis?.stop();
});

describe('engine workers on Redis (real redis-server)', () => {
  test('with no worker the job waits and says "waiting for a worker"; a worker that connects runs it', async () => {
    const backend = await startRedisBackend({ redisUrl: redis.url, model: 'tiny-sd15', namespace: 'wait', log });
    const sink = new RecordingSink();
    const app = createBotApp({ settings: testSettings(), backend, sink, log: silentLogger, messageContent: false });
    try {
      const { job } = await app.jobs.submit({ request: imagine(), origin: 'imagine', parentId: null, user: alice, guildId: 'g', channelId: 'c' });
      await until(() => /waiting for a worker/.test(sink.messageOfJob(job.id).message.content), 'the waiting status');
      expect(app.store.require(job.id).status).toBe('queued');

      worker = await startWorker('w1');
      await app.jobs.idle();
      expect(app.store.require(job.id).status).toBe('done');
      expect(sink.messageOfJob(job.id).message.content).toMatch(/^✅/);
      expect(count(/started job-wait-1 /)).toBe(1);
    } finally {
      await app.jobs.shutdown();
      await backend.close();
      await app.close();
    }
  }, 300_000);

  test('cancelling a running job reaches its worker, which stops it between steps', async () => {
    const backend = await startRedisBackend({ redisUrl: redis.url, model: 'tiny-sd15', namespace: 'cancel', log });
    try {
      const controller = new AbortController();
      const steps: number[] = [];
      const run = backend.imagine(imagine({ steps: 40 }), {
        jobKey: '1',
        signal: controller.signal,
        onProgress: (p) => {
          steps.push(p.step);
          if (p.step === 2) controller.abort();
        },
      });
      await expect(run).rejects.toMatchObject({ name: 'UserError', code: 'cancelled' });
      expect(steps.length).toBeGreaterThan(0);
      expect(Math.max(...steps)).toBeLessThan(40);
      expect(count(/cancelling job-cancel-1$/)).toBe(1);
      expect(count(/finished job-cancel-1$/)).toBe(0);
    } finally {
      await backend.close();
    }
  }, 120_000);

  test("an edit's source trajectory travels to the worker as binary (not in BullMQ's JSON job data) and is replayed", async () => {
    const backend = await startRedisBackend({ redisUrl: redis.url, model: 'tiny-sd15', namespace: 'trajectory', log });
    const client = await connectRedis(redis.url);
    try {
      const source = params({ steps: 3 });
      const generated = (await backend.imagine({ kind: 'imagine', params: source, returnTrajectory: true }, { jobKey: '1', signal: new AbortController().signal, onProgress: noProgress })) as ImagineResult;
      const trajectory = generated.trajectory!;
      expect(trajectory.data).toBeInstanceOf(Float32Array);
      expect(trajectory.shape).toEqual([4, 4, 8, 8]);

      let keysWhileRunning: string[] = [];
      let jobData = '';
      let looked = false;
      const edit = backend.edit(
        { kind: 'edit', params: { source, edit: 'fox→cat' }, sourceTrajectory: trajectory },
        {
          jobKey: '2',
          signal: new AbortController().signal,
          onProgress: () => {
            if (looked) return;
            looked = true;
            void client.keys('reprompt:trajectory:*').then((keys) => (keysWhileRunning = keys));
            void client.hget(`${REDIS_PREFIX}:${queueNameFor('tiny-sd15')}:job-trajectory-2`, 'data').then((data) => (jobData = data ?? ''));
          },
        },
      );
      const result = (await edit) as EditResult;
      expect(result.sourceFrom).toBe('trajectory');
      expect(keysWhileRunning).toEqual(['reprompt:trajectory:job-trajectory-2']);
      expect(jobData).toMatch(/"trajectoryKey":"reprompt:trajectory:job-trajectory-2"/);
      expect(jobData).not.toMatch(/sourceTrajectory/);
      // Settled: the binary key is gone with the job.
      await until(async () => (await client.keys('reprompt:trajectory:*')).length === 0, 'the trajectory key removed');
    } finally {
      client.disconnect();
      await backend.close();
    }
  }, 120_000);

  test("an invert job's picture travels to the worker under its own binary key; the inversion comes back as float32", async () => {
    const backend = await startRedisBackend({ redisUrl: redis.url, model: 'tiny-sd15', namespace: 'invert', log });
    const client = await connectRedis(redis.url);
    try {
      const image = new Uint8Array(readFileSync(referencePath('inversion/photo_256x192.png')));
      let keysWhileRunning: string[] = [];
      let jobData = '';
      const result = await backend.invert(
        { kind: 'invert', image, prompt: 'a drawing of a house under the sun', steps: 2, width: 128, height: 96 },
        {
          jobKey: '1',
          signal: new AbortController().signal,
          onProgress: () => {
            if (keysWhileRunning.length > 0) return;
            void client.keys('reprompt:image:*').then((keys) => (keysWhileRunning = keys));
            void client.hget('reprompt:engine-tiny-sd15:job-invert-1', 'data').then((data) => (jobData = data ?? ''));
          },
        },
      );
      expect(result.kind).toBe('invert');
      expect(result.trajectory.data).toBeInstanceOf(Float32Array);
      expect(result.trajectory.shape).toEqual([3, 4, 12, 16]);
      expect(result.photo).toMatchObject({ width: 128, height: 96 });
      expect(keysWhileRunning).toEqual(['reprompt:image:job-invert-1']);
      expect(jobData).toMatch(/"imageKey":"reprompt:image:job-invert-1"/);
      expect(jobData).not.toMatch(/"image":/);
      await until(async () => (await client.keys('reprompt:image:*')).length === 0, 'the image key removed');
    } finally {
      client.disconnect();
      await backend.close();
    }
  }, 120_000);

  test('a job names its model: no worker of another model takes it, and it can be cancelled while it waits', async () => {
    const backend = await startRedisBackend({ redisUrl: redis.url, model: 'another-model', namespace: 'model', log });
    try {
      const engines: number[] = [];
      backend.watchCapacity((n) => engines.push(n));
      expect(engines).toEqual([0]);
      const controller = new AbortController();
      const run = backend.imagine(imagine(), { jobKey: '1', signal: controller.signal, onProgress: noProgress });
      await new Promise((r) => setTimeout(r, 3000));
      expect(count(/started job-model-1 /)).toBe(0);
      controller.abort();
      await expect(run).rejects.toMatchObject({ code: 'cancelled' });
    } finally {
      await backend.close();
    }
  }, 60_000);

  test('a bot restarted while the worker runs still delivers the job that finished meanwhile, without running it again', async () => {
    const dbPath = tempDbPath();
    const sink = new RecordingSink();
    const first = await startRedisBackend({ redisUrl: redis.url, model: 'tiny-sd15', namespace: 'restart', log });
    const before = createBotApp({ settings: testSettings({ dbPath }), backend: first, sink, log: silentLogger, messageContent: false });
    const { job } = await before.jobs.submit({ request: imagine({ seed: '7', steps: 6 }), origin: 'imagine', parentId: null, user: alice, guildId: 'g', channelId: 'c' });
    await until(() => count(new RegExp(`started job-restart-${job.id} `)) === 1, 'the worker to start the job');
    // The bot goes away mid-job without a word to the database (as in a crash); the worker goes on.
    await first.close();
    await before.close();
    await until(() => count(new RegExp(`finished job-restart-${job.id}$`)) === 1, 'the worker to finish the job');

    const second = await startRedisBackend({ redisUrl: redis.url, model: 'tiny-sd15', namespace: 'restart', log });
    const after = createBotApp({ settings: testSettings({ dbPath }), backend: second, sink, log: silentLogger, messageContent: false });
    try {
      expect(after.store.require(job.id).status).toBe('running');
      expect(await after.jobs.resumeUnfinished()).toEqual({ resumed: 1, failed: 0 });
      await after.jobs.idle();
      expect(after.store.require(job.id).status).toBe('done');
      expect(sink.messageOfJob(job.id).message.content).toMatch(/^✅/);
      expect(sink.events.filter((e) => e.op !== 'delete' && /^✅/.test(e.message?.content ?? '')).length).toBe(1);
      expect(count(new RegExp(`started job-restart-${job.id} `))).toBe(1);
    } finally {
      await after.jobs.shutdown();
      await second.close();
      await after.close();
    }
  }, 120_000);

  test('Redis restarted empty: the bot hands its unfinished job over again and delivers one result', async () => {
    await worker?.close();
    worker = undefined;
    const backend = await startRedisBackend({ redisUrl: redis.url, model: 'tiny-sd15', namespace: 'redis', log });
    try {
      const run = backend.imagine(imagine({ seed: '9' }), { jobKey: '1', signal: new AbortController().signal, onProgress: noProgress });
      await new Promise((r) => setTimeout(r, 500));
      await redis.restart();
      worker = await startWorker('w2');
      const result: ImagineResult = await run;
      expect(result.params.seed).toBe('9');
      expect(count(/Redis does not have job job-redis-1/)).toBeGreaterThanOrEqual(1);
      expect(count(/started job-redis-1 /)).toBe(1);
    } finally {
      await backend.close();
    }
  }, 300_000);
});
