/**
 * An engine worker on Redis (`reprompt worker`): one engine (the worker thread of ./engine-backend.ts's
 * startAppEngine), taking jobs for its model from BullMQ one at a time. It announces itself (model, provider,
 * busy) while it lives, reports progress with job.updateProgress, stores each result under a key with a TTL and
 * returns only that key, and stops a job when the bot publishes its cancellation.
 *
 * A worker killed mid-job stops renewing the job's lock; after lockDuration BullMQ's stalled-job check (run by
 * the other workers) puts the job back in the queue and another worker runs it. The dead one never returned a
 * result, so the bot receives exactly one.
 */
import { hostname } from 'node:os';
import { Worker, type Job as BullJob } from 'bullmq';
import { isUserError, toErrorValue, UserError } from '../../engine/errors.js';
import type { StepProgress } from '../../engine/jobs.js';
import type { EngineWorker } from '../../engine/worker/engine-worker.js';
import type { EngineConfig } from '../config.js';
import { readyLine, startAppEngine } from '../engine-backend.js';
import type { WarmUpOptions } from '../../engine/pipeline.js';
import type { Logger } from '../log.js';
import { connectRedis as connect } from './connect.js';
import {
  ANNOUNCE_EVERY_MS,
  ANNOUNCE_TTL_MS,
  announcementKey,
  CANCEL_CHANNEL,
  cancelledKey,
  decodeTrajectory,
  encodeResult,
  queueNameFor,
  REDIS_PREFIX,
  RESULT_TTL_S,
  resultKey,
  type RemoteJob,
  type RemoteJobData,
  type RemoteOutcome,
  type RemoteResult,
  type WorkerAnnouncement,
} from './protocol.js';

export interface RemoteWorkerOptions {
  redisUrl: string;
  engine: EngineConfig;
  /** Warm the engine at these shapes before taking jobs. */
  warmUp?: WarmUpOptions;
  /** Shown in logs and announcements; unique per worker (default: host and process id). */
  name?: string;
  /**
   * How long a job's lock lasts without renewal (BullMQ lockDuration; the worker renews it every half of it). A
   * killed worker's job goes to another worker this long after the death, at the next stalled-job check.
   */
  lockMs?: number;
  log: Logger;
}

export interface RemoteWorker {
  readonly name: string;
  readonly model: string;
  /** Resolves when the worker has stopped: after close(), or on its own when its engine thread crashed. */
  readonly stopped: Promise<void>;
  /** Finishes the running job, then stops taking jobs and releases the engine. */
  close(): Promise<void>;
}

const DEFAULT_LOCK_MS = 30_000;

export async function startRemoteWorker(o: RemoteWorkerOptions): Promise<RemoteWorker> {
  const name = o.name ?? `${hostname()}-${process.pid}`;
  const lockMs = o.lockMs ?? DEFAULT_LOCK_MS;
  const redis = await connect(o.redisUrl);
  const subscriber = await connect(o.redisUrl);
  const bullConnection = await connect(o.redisUrl, { forBullMQ: true });
  let engine: EngineWorker;
  try {
    engine = await startAppEngine(o.engine, { warmUp: o.warmUp });
  } catch (e) {
    for (const client of [redis, subscriber, bullConnection]) client.disconnect();
    throw e;
  }
  const model = engine.info.model.name;
  let busy = false;

  const announcement = (): WorkerAnnouncement => ({
    name,
    model,
    provider: engine.info.provider,
    kinds: engine.info.kinds,
    vaeScaleFactor: engine.info.model.vaeScaleFactor,
    defaultSampler: engine.info.model.defaultSampler,
    busy,
  });
  const announce = (): Promise<unknown> =>
    redis.set(announcementKey(model, name), JSON.stringify(announcement()), 'PX', ANNOUNCE_TTL_MS).catch((e: unknown) => o.log.warn('could not announce the worker', e));

  /** The job with its binary parts back in place; an expired trajectory key only costs the source branch (4 rows). */
  const withTrajectory = async (data: RemoteJobData): Promise<RemoteJob> => {
    if (data.job.kind === 'invert' || data.job.kind === 'img2img') {
      const image = data.imageKey === undefined ? null : await redis.getBuffer(data.imageKey);
      if (!image) throw new UserError('bad_input', 'The picture of this job is no longer in Redis: send it again.');
      return { ...data.job, image: new Uint8Array(image) };
    }
    if (data.job.kind !== 'edit' || data.trajectoryKey === undefined) return data.job;
    const bytes = await redis.getBuffer(data.trajectoryKey);
    return bytes ? { ...data.job, sourceTrajectory: decodeTrajectory(bytes) } : data.job;
  };

  const processor = async (job: BullJob<RemoteJobData, RemoteOutcome>, _token?: string, signal?: AbortSignal): Promise<RemoteOutcome> => {
    const jobId = job.id ?? '';
    try {
      if (job.data.model !== model) throw new UserError('model', `Job ${jobId} is for model ${job.data.model}; this worker runs ${model}.`);
      if (await redis.exists(cancelledKey(jobId))) throw new UserError('cancelled', 'The job was cancelled.');
      busy = true;
      void announce();
      const startedAt = Date.now();
      o.log.info(`started ${jobId} (${job.data.job.kind}, attempt ${job.attemptsStarted})`);
      const onProgress = (progress: StepProgress): void => void job.updateProgress({ ...progress }).catch(() => {});
      const result = await engine.run<RemoteResult>(await withTrajectory(job.data), { signal, onProgress });
      const key = resultKey(jobId);
      await redis.set(key, encodeResult(result), 'EX', RESULT_TTL_S);
      o.log.info(`finished ${jobId}`);
      return { ok: true, resultKey: key, worker: name, startedAt, finishedAt: Date.now() };
    } catch (e) {
      if (!isUserError(e) || e.code === 'internal') o.log.error(`job ${jobId} failed`, e);
      return { ok: false, error: toErrorValue(e), worker: name };
    } finally {
      busy = false;
      void announce();
      // An engine thread that crashed cannot run the next job: stop, so that a supervisor starts a fresh worker.
      if (!engine.alive) {
        o.log.error('the engine thread is gone: stopping this worker');
        void stop();
      }
    }
  };

  const worker = new Worker<RemoteJobData, RemoteOutcome>(queueNameFor(model), processor, {
    connection: bullConnection,
    prefix: REDIS_PREFIX,
    concurrency: 1,
    lockDuration: lockMs,
    stalledInterval: Math.max(1_000, Math.round(lockMs / 2)),
    // A job whose worker died twice goes to failed instead of killing a third.
    maxStalledCount: 2,
  });
  worker.on('error', (e) => o.log.warn('BullMQ worker error', e));

  await subscriber.subscribe(CANCEL_CHANNEL);
  subscriber.on('message', (_channel: string, jobId: string) => {
    if (worker.cancelJob(jobId, 'cancelled by the bot')) o.log.info(`cancelling ${jobId}`);
  });

  await announce();
  const heartbeat = setInterval(() => void announce(), ANNOUNCE_EVERY_MS);
  o.log.info(`worker ${name} ${readyLine(engine.info)}: model ${model} on ${engine.info.provider}, queue ${queueNameFor(model)}`);

  let stopping: Promise<void> | undefined;
  let notifyStopped!: () => void;
  const stopped = new Promise<void>((resolve) => (notifyStopped = resolve));
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      clearInterval(heartbeat);
      await worker.close();
      await redis.del(announcementKey(model, name)).catch(() => 0);
      await engine.close();
      for (const client of [redis, subscriber, bullConnection]) client.disconnect();
      notifyStopped();
    })());

  return { name, model, stopped, close: stop };
}
