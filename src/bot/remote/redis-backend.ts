/**
 * The ImageBackend of the distributed mode: the bot loads no model; it hands each job to BullMQ when its FairQueue
 * starts it (so only as many jobs are in Redis as there are workers, and queue positions stay the bot's), and the
 * engine workers (./worker.ts) run them.
 *
 * Delivery is by job id, not by event: the BullMQ job id is the bot's own job id, so a job handed over twice (after
 * a bot restart, or after Redis lost it) is one job. Completion events are a fast path only; a sweep every second
 * asks BullMQ for the state of every job in flight, re-submits the ones Redis no longer has (it was restarted
 * empty) and takes the results of finished ones, so a missed event or a reconnect never loses a result.
 */
import { randomUUID } from 'node:crypto';
import { Job as BullJob, Queue, QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import { errorMessage, fromErrorValue, UserError } from '../../engine/errors.js';
import type { StepProgress } from '../../engine/jobs.js';
import { SAMPLER_NAMES } from '../../engine/schedulers/scheduler.js';
import type { Trajectory } from '../../engine/trajectory.js';
import type { EditJob, EditResult } from '../../p2p/jobs.js';
import type { ImagineGridJob, ImagineGridResult, ImagineJob, ImagineResult, Img2ImgJob, Img2ImgResult, InvertJob, InvertResult } from '../../engine/jobs.js';
import type { BackendInfo, BackendLimits, ImageBackend, RunOptions } from '../backend.js';
import { engineLimits } from '../engine-backend.js';
import type { Logger } from '../log.js';
import {
  announcementPattern,
  CANCEL_CHANNEL,
  cancelledKey,
  decodeResult,
  queueNameFor,
  REDIS_PREFIX,
  RESULT_TTL_S,
  remoteJobId,
  type RemoteJob,
  type RemoteJobBody,
  type RemoteJobData,
  type RemoteOutcome,
  type RemoteResult,
  trajectoryKey,
  imageKey,
  encodeTrajectory,
  type WorkerAnnouncement,
} from './protocol.js';
import { connectRedis } from './connect.js';

/** Every SD 1.x/2.x export decodes 8 image pixels per latent pixel; a worker refuses a size its model cannot take. */
const SD_VAE_SCALE = 8;
const SWEEP_MS = 1_000;

export interface RedisBackendOptions {
  redisUrl: string;
  /** The model jobs ask for: the name workers announce (their model folder's name). */
  model: string;
  /**
   * Distinguishes this bot's job ids from another's on the same Redis (e.g. a hash of its database path): the
   * BullMQ job id is `<namespace>-<job id>`.
   */
  namespace: string;
  log: Logger;
  /** Called once per delivered job with its times (ms since the epoch), for the benchmark. */
  onDelivered?(times: DeliveryTimes): void;
}

export interface DeliveryTimes {
  jobId: string;
  worker: string;
  enqueuedAt: number;
  startedAt: number;
  finishedAt: number;
  deliveredAt: number;
}

interface InFlight {
  jobId: string;
  data: RemoteJobData;
  /** An edit's source trajectory: stored under its own binary key at each hand-over, not in the job data. */
  trajectory?: Trajectory;
  /** An invert job's picture, the same way. */
  image?: Uint8Array;
  onProgress(progress: StepProgress): void;
  resolve(result: RemoteResult): void;
  reject(error: UserError): void;
  settled: boolean;
  checking: boolean;
}

/** Connects to Redis (UserError naming the URL when it cannot); workers may connect before or after. */
export async function startRedisBackend(o: RedisBackendOptions): Promise<RedisBackend> {
  const redis = await connectRedis(o.redisUrl);
  const connection = await connectRedis(o.redisUrl, { forBullMQ: true });
  const eventsConnection = await connectRedis(o.redisUrl, { forBullMQ: true });
  const backend = new RedisBackend(o, redis, connection, eventsConnection);
  await backend.sweep();
  return backend;
}

export class RedisBackend implements ImageBackend {
  readonly limits: BackendLimits = engineLimits(SD_VAE_SCALE);
  readonly info: { -readonly [K in keyof BackendInfo]: BackendInfo[K] };
  private readonly queue: Queue<RemoteJobData, RemoteOutcome>;
  private readonly events: QueueEvents;
  private readonly inFlight = new Map<string, InFlight>();
  private readonly capacityListeners = new Set<(engines: number) => void>();
  private engines = 0;
  private readonly timer: NodeJS.Timeout;
  private sweeping: Promise<void> | undefined;

  constructor(
    private readonly o: RedisBackendOptions,
    private readonly redis: Redis,
    private readonly connection: Redis,
    private readonly eventsConnection: Redis,
  ) {
    // The model's own sampler is learnt from the workers' announcements; SD 1.x exports default to PNDM.
    this.info = { model: o.model, provider: 'engine workers on Redis', defaultSampler: 'pndm' };
    const name = queueNameFor(o.model);
    this.queue = new Queue<RemoteJobData, RemoteOutcome>(name, { connection, prefix: REDIS_PREFIX });
    this.queue.on('error', (e) => o.log.warn('BullMQ queue error', e));
    this.events = new QueueEvents(name, { connection: eventsConnection, prefix: REDIS_PREFIX });
    this.events.on('error', (e) => o.log.warn('BullMQ events error', e));
    this.events.on('progress', ({ jobId, data }) => this.inFlight.get(jobId)?.onProgress(data as StepProgress));
    this.events.on('completed', ({ jobId }) => this.check(jobId));
    this.events.on('failed', ({ jobId }) => this.check(jobId));
    this.timer = setInterval(() => void this.sweep(), SWEEP_MS);
  }

  watchCapacity(listener: (engines: number) => void): () => void {
    this.capacityListeners.add(listener);
    listener(this.engines);
    return () => this.capacityListeners.delete(listener);
  }

  imagine(job: ImagineJob, opts: RunOptions): Promise<ImagineResult> {
    return this.run(job, opts) as Promise<ImagineResult>;
  }

  edit(job: EditJob, opts: RunOptions): Promise<EditResult> {
    return this.run(job, opts) as Promise<EditResult>;
  }

  img2img(job: Img2ImgJob, opts: RunOptions): Promise<Img2ImgResult> {
    return this.run(job, opts) as Promise<Img2ImgResult>;
  }

  imagineGrid(job: ImagineGridJob, opts: RunOptions): Promise<ImagineGridResult> {
    return this.run(job, opts) as Promise<ImagineGridResult>;
  }

  invert(job: InvertJob, opts: RunOptions): Promise<InvertResult> {
    return this.run(job, opts) as Promise<InvertResult>;
  }

  /**
   * Disconnects. Jobs still in flight are left unsettled on purpose: they go on on their workers, the database
   * still says they run, and the next start of the bot collects their results (JobService.resumeUnfinished hands
   * them over again under the same ids). The bot's own shutdown waits for running jobs before it closes this.
   */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.sweeping;
    this.inFlight.clear();
    await this.events.close();
    await this.queue.close();
    for (const client of [this.redis, this.connection, this.eventsConnection]) client.disconnect();
  }

  /** Workers announced now, and what changed is passed on; then every job in flight is checked. */
  sweep(): Promise<void> {
    this.sweeping ??= (async () => {
      try {
        await this.countEngines();
        await Promise.all([...this.inFlight.keys()].map((jobId) => this.check(jobId)));
      } catch (e) {
        this.o.log.warn('could not read the job states from Redis (reconnecting)', e);
      } finally {
        this.sweeping = undefined;
      }
    })();
    return this.sweeping;
  }

  private async countEngines(): Promise<void> {
    let cursor = '0';
    let count = 0;
    let sample: string | undefined;
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', announcementPattern(this.o.model), 'COUNT', 100);
      cursor = next;
      count += keys.length;
      sample ??= keys[0];
    } while (cursor !== '0');
    if (sample !== undefined) this.learnDefaultSampler(await this.redis.get(sample));
    if (count === this.engines) return;
    this.engines = count;
    for (const listener of this.capacityListeners) listener(count);
  }

  private learnDefaultSampler(announcement: string | null): void {
    if (announcement === null) return;
    try {
      const { defaultSampler } = JSON.parse(announcement) as Partial<WorkerAnnouncement>;
      if (defaultSampler !== undefined && SAMPLER_NAMES.includes(defaultSampler)) this.info.defaultSampler = defaultSampler;
    } catch {
      // a malformed announcement says nothing about the sampler
    }
  }

  private run(job: RemoteJob, opts: RunOptions): Promise<RemoteResult> {
    if (opts.signal.aborted) return Promise.reject(new UserError('cancelled', 'The job was cancelled.'));
    const jobId = remoteJobId(`${this.o.namespace}-${opts.jobKey ?? randomUUID()}`);
    return new Promise<RemoteResult>((resolve, reject) => {
      const onAbort = (): void => void this.cancel(entry);
      const entry: InFlight = {
        jobId,
        data: { job: withoutTrajectory(job), model: this.o.model, enqueuedAt: Date.now() },
        trajectory: job.kind === 'edit' ? job.sourceTrajectory : undefined,
        image: job.kind === 'invert' || job.kind === 'img2img' ? job.image : undefined,
        onProgress: opts.onProgress,
        resolve: (result) => {
          opts.signal.removeEventListener('abort', onAbort);
          resolve(result);
        },
        reject: (error) => {
          opts.signal.removeEventListener('abort', onAbort);
          reject(error);
        },
        settled: false,
        checking: false,
      };
      this.inFlight.set(jobId, entry);
      opts.signal.addEventListener('abort', onAbort, { once: true });
      // Failing to reach Redis now is not fatal: the sweep re-submits once it is back.
      this.submit(entry).catch((e: unknown) => this.o.log.warn(`could not hand job ${jobId} to Redis yet`, e));
    });
  }

  /** Adds the job unless BullMQ has it already (same id: a no-op), so a re-submission never runs a job twice. */
  private async submit(entry: InFlight): Promise<void> {
    if (entry.trajectory) {
      const key = trajectoryKey(entry.jobId);
      await this.redis.set(key, encodeTrajectory(entry.trajectory), 'EX', RESULT_TTL_S);
      entry.data.trajectoryKey = key;
    }
    if (entry.image) {
      const key = imageKey(entry.jobId);
      await this.redis.set(key, Buffer.from(entry.image.buffer, entry.image.byteOffset, entry.image.byteLength), 'EX', RESULT_TTL_S);
      entry.data.imageKey = key;
    }
    await this.queue.add(entry.data.job.kind, entry.data, {
      jobId: entry.jobId,
      removeOnComplete: { age: RESULT_TTL_S },
      removeOnFail: { age: RESULT_TTL_S },
    });
  }

  private async check(jobId: string): Promise<void> {
    const entry = this.inFlight.get(jobId);
    if (!entry || entry.settled || entry.checking) return;
    entry.checking = true;
    try {
      const job = await BullJob.fromId<RemoteJobData, RemoteOutcome>(this.queue, jobId);
      if (!job) {
        this.o.log.warn(`Redis does not have job ${jobId} (restarted?): handing it over again`);
        await this.submit(entry);
        return;
      }
      const state = await job.getState();
      if (state === 'completed') await this.settle(entry, job.returnvalue);
      else if (state === 'failed') this.finish(entry, () => entry.reject(new UserError('internal', `The job failed on the engine workers: ${job.failedReason}`)));
    } finally {
      entry.checking = false;
    }
  }

  private async settle(entry: InFlight, outcome: RemoteOutcome): Promise<void> {
    if (!outcome.ok) return this.finish(entry, () => entry.reject(fromErrorValue(outcome.error)));
    const bytes = await this.redis.getBuffer(outcome.resultKey);
    if (!bytes) {
      // Expired or lost with a Redis restart: run it again rather than never answer.
      this.o.log.warn(`the result of job ${entry.jobId} is gone from Redis: running it again`);
      await this.queue.remove(entry.jobId);
      await this.submit(entry);
      return;
    }
    const result = decodeResult(bytes);
    const deliveredAt = Date.now();
    this.finish(entry, () => entry.resolve(result));
    this.o.onDelivered?.({ jobId: entry.jobId, worker: outcome.worker, enqueuedAt: entry.data.enqueuedAt, startedAt: outcome.startedAt, finishedAt: outcome.finishedAt, deliveredAt });
    await this.redis.del(outcome.resultKey);
  }

  /** Settles a job once; BullMQ's copy is removed (the result key too, by settle). */
  private finish(entry: InFlight, settle: () => void): void {
    if (entry.settled) return;
    entry.settled = true;
    this.inFlight.delete(entry.jobId);
    settle();
    if (entry.data.trajectoryKey) this.redis.del(entry.data.trajectoryKey).catch(() => 0);
    if (entry.data.imageKey) this.redis.del(entry.data.imageKey).catch(() => 0);
    this.queue.remove(entry.jobId).catch((e: unknown) => this.o.log.warn(`could not remove job ${entry.jobId} from Redis`, errorMessage(e)));
  }

  /**
   * Cancels a job handed to BullMQ: one no worker has taken is removed at once; a running one is stopped by its
   * worker (the cancel channel) and answers 'cancelled'; the key covers a worker that takes it meanwhile.
   */
  private async cancel(entry: InFlight): Promise<void> {
    try {
      await this.redis.set(cancelledKey(entry.jobId), '1', 'EX', RESULT_TTL_S);
      await this.redis.publish(CANCEL_CHANNEL, entry.jobId);
      const removed = await this.queue.remove(entry.jobId);
      if (removed === 1) this.finish(entry, () => entry.reject(new UserError('cancelled', 'The job was cancelled.')));
    } catch (e) {
      this.o.log.warn(`could not cancel job ${entry.jobId} on Redis`, e);
    }
  }
}

/** The job as BullMQ's JSON job data can hold it: an edit's Float32Array trajectory (the picture of an invert or img2img job) travels under its own key. */
function withoutTrajectory(job: RemoteJob): RemoteJobBody {
  if (job.kind === 'invert' || job.kind === 'img2img') {
    const { image: _bytes, ...body } = job;
    return body;
  }
  if (job.kind !== 'edit' || !job.sourceTrajectory) return job;
  const { sourceTrajectory: _binary, ...rest } = job;
  return rest;
}
