/**
 * Jobs from acceptance to delivery: store the job, post its status message in the channel, queue it fairly, run
 * it on the backend while keeping the message current (position, step k/n · ETA), then turn the message into
 * the result. Every message after the first answer goes through the bot-token sink, so results of jobs that
 * finish after the 15-minute interaction token still land, and so do jobs resumed after a restart.
 */
import { isUserError, toErrorValue, UserError } from '../engine/errors.js';
import type { ImagineGridResult, ImagineResult, Img2ImgResult, StepProgress } from '../engine/jobs.js';
import type { EditJob, EditResult } from '../p2p/jobs.js';
import { photoEditJob, photoInvertJob } from '../p2p/photo-edit.js';
import type { BackendLimits, ImageBackend, RunOptions } from './backend.js';
import type { JobOrigin, JobOutcome, JobRecord, JobRequest } from './job.js';
import { isFinished } from './job.js';
import type { Logger } from './log.js';
import { isMessageGone, type MessageRef, type MessageSink, type RenderedMessage, type UserRef } from './port/index.js';
import type { QueueConfig } from './config.js';
import { FairQueue } from './queue.js';
import { endedMessage, resultMessage, statusMessage, type JobState, type PauseReason, type RenderContext, type ShownPreview } from './render.js';
import { candidateRequest, shareOf } from './grid.js';
import type { JobStore } from './store.js';
import { MessageUpdater } from './updater.js';
import { DEFAULT_TRAJECTORY_BUDGET_BYTES, TrajectoryKeeper } from './trajectories.js';
import { checkRequest } from './validate.js';

export interface JobServiceOptions {
  store: JobStore;
  backend: ImageBackend;
  sink: MessageSink;
  log: Logger;
  /** Effective limits (model ∩ operator caps). */
  limits: BackendLimits;
  /** How many jobs run at once is the backend's (see ImageBackend.watchCapacity). */
  queue: QueueConfig;
  uploadLimitBytes: number;
  /** Minimum time between two edits of one message. */
  progressIntervalMs: number;
  /** Bytes of source trajectories kept in the store for later edits (default 512 MiB; 0 keeps none). */
  trajectoryBudgetBytes?: number;
}

/** Live previews per job at most; the engine also leaves progressIntervalMs between two (it computes no more than are shown). */
const PREVIEWS_PER_JOB = 8;

export interface SubmitInput {
  request: JobRequest;
  origin: JobOrigin;
  parentId: number | null;
  user: UserRef;
  guildId: string | null;
  channelId: string;
}

export interface QueueOverview {
  paused: boolean;
  running: { job: JobRecord; progress?: StepProgress }[];
  waiting: { job: JobRecord; position: number }[];
}

export class JobService {
  readonly queue: FairQueue;
  private readonly updater: MessageUpdater;
  private readonly trajectories: TrajectoryKeeper;
  /** Jobs queued or running, as last read from the store. */
  private readonly active = new Map<number, JobRecord>();
  /** Resolves when a job's status message exists (a job never starts before it). */
  private readonly posted = new Map<number, Promise<void>>();
  private readonly progress = new Map<number, StepProgress>();
  /** The newest live preview of each running job (progress reports without one keep showing it). */
  private readonly previews = new Map<number, ShownPreview>();
  /** The queue position each waiting job's message shows, to edit only on change. */
  private readonly shown = new Map<number, string>();
  private pauseReason: PauseReason | undefined;
  /** Resolved at the next queue change (see idle()). */
  private changeWaiters: (() => void)[] = [];
  private readonly stopWatchingCapacity: () => void;

  constructor(private readonly o: JobServiceOptions) {
    this.updater = new MessageUpdater(o.sink, o.progressIntervalMs, o.log);
    this.trajectories = new TrajectoryKeeper(o.store, o.backend.info.model, o.trajectoryBudgetBytes ?? DEFAULT_TRAJECTORY_BUDGET_BYTES);
    this.queue = new FairQueue({ ...o.queue, concurrency: o.backend.watchCapacity ? 0 : 1 }, (id, signal) => this.run(id, signal), {
      onChange: () => {
        this.refreshPositions();
        const waiters = this.changeWaiters;
        this.changeWaiters = [];
        waiters.forEach((resolve) => resolve());
      },
      onError: (id, e) => o.log.error(`job ${id} could not be delivered`, e),
    });
    this.stopWatchingCapacity = o.backend.watchCapacity?.((engines) => this.queue.setConcurrency(engines)) ?? (() => {});
  }

  /** What messages need of the model; read each time, since a remote backend learns it from its workers. */
  private get view(): RenderContext {
    return { defaultSampler: this.o.backend.info.defaultSampler, limits: this.o.limits };
  }

  /**
   * Accepts a job (UserError('busy') when the queue or the user's share is full) and posts its status message.
   * `position` is the job's place in the queue, undefined when it is already running.
   */
  async submit(input: SubmitInput): Promise<{ job: JobRecord; position: number | undefined }> {
    checkRequest(input.request, this.o.limits);
    const share = shareOf(input.request);
    if (share > this.o.queue.userMaxPending) {
      throw new UserError('busy', `count ${share} is more than your share of the queue (${this.o.queue.userMaxPending} jobs at once): ask for count ${this.o.queue.userMaxPending} or fewer.`);
    }
    // Checking, storing and queueing happen without an await in between, so concurrent submits cannot overshoot.
    this.queue.assertAccepts(input.user.id);
    const created = this.o.store.create({
      request: input.request,
      origin: input.origin,
      parentId: input.parentId,
      userId: input.user.id,
      userName: input.user.name,
      guildId: input.guildId,
      channelId: input.channelId,
    });
    this.active.set(created.id, created);
    try {
      const job = await this.queueWithStatus(created, false);
      return { job, position: this.queue.position(job.id) };
    } catch {
      throw new UserError('forbidden', 'I cannot post in this channel: I need the View Channel, Send Messages and Attach Files permissions here.');
    }
  }

  /** Cancels a waiting or running job; only its author or an admin may. */
  async cancel(jobId: number, by: { userId: string; isAdmin: boolean }): Promise<JobRecord> {
    const job = this.o.store.get(jobId);
    if (!job) throw new UserError('not_found', `There is no job #${jobId}.`);
    if (job.userId !== by.userId && !by.isAdmin) throw new UserError('forbidden', `Only the author of job #${jobId} or an admin can cancel it.`);
    if (isFinished(job.status)) {
      const state = { done: 'has already finished', failed: 'has already failed', cancelled: 'was already cancelled' }[job.status as 'done' | 'failed' | 'cancelled'];
      throw new UserError('bad_input', `Job #${jobId} ${state}.`);
    }
    const found = this.queue.cancel(jobId);
    if (found === 'running') return job; // run() sees the abort, marks it cancelled and edits the message.
    const cancelled = this.o.store.markCancelled(jobId);
    this.forget(jobId);
    await this.deliver(cancelled, endedMessage(cancelled, this.view));
    return cancelled;
  }

  pause(): void {
    this.pauseReason = 'admin';
    this.queue.pause();
  }

  resume(): void {
    this.pauseReason = undefined;
    this.queue.resume();
  }

  /** Stops starting jobs and waits for the running ones; waiting jobs stay queued in the store for the next start. */
  async shutdown(): Promise<void> {
    this.pauseReason = 'shutdown';
    this.queue.pause();
    await this.idle();
    this.stopWatchingCapacity();
  }

  /** The user's newest job that is still queued or running. */
  latestActiveOf(userId: string): JobRecord | undefined {
    return [...this.active.values()].filter((j) => j.userId === userId).sort((a, b) => b.id - a.id)[0];
  }

  overview(): QueueOverview {
    return {
      paused: this.queue.paused,
      running: this.queue.runningIds().map((id) => ({ job: this.active.get(id) ?? this.o.store.require(id), progress: this.progress.get(id) })),
      waiting: this.queue.order().map((entry, i) => ({ job: this.active.get(entry.id) ?? this.o.store.require(entry.id), position: i + 1 })),
    };
  }

  /**
   * After a restart: jobs that were queued or running are queued again in their old order (their messages say
   * so); one that no longer passes the current limits fails with the reason, in its channel.
   */
  async resumeUnfinished(): Promise<{ resumed: number; failed: number }> {
    let resumed = 0;
    let failed = 0;
    for (const stored of this.o.store.unfinished()) {
      const job = stored.status === 'running' ? this.o.store.requeue(stored.id) : stored;
      try {
        checkRequest(job.request, this.o.limits);
      } catch (e) {
        const ended = this.o.store.markFailed(job.id, toErrorValue(e));
        await this.deliver(ended, endedMessage(ended, this.view)).catch((err) => this.o.log.warn(`could not tell the user of job ${job.id}`, err));
        failed++;
        continue;
      }
      this.active.set(job.id, job);
      // Accepted before the restart: the limits on queue length and per-user jobs do not apply again.
      this.queueWithStatus(job, true).catch(() => {}); // logged, and the job failed, in queueWithStatus
      resumed++;
    }
    return { resumed, failed };
  }

  /**
   * Resolves when no job runs and none waits (a paused queue's waiting jobs stay waiting) and every message edit
   * has landed.
   */
  async idle(): Promise<void> {
    while (this.queue.runningIds().length > 0 || (this.queue.size > 0 && !this.queue.paused)) {
      await new Promise<void>((resolve) => this.changeWaiters.push(resolve));
    }
    await this.updater.flush();
  }

  private forget(id: number): void {
    this.active.delete(id);
    this.progress.delete(id);
    this.previews.delete(id);
    this.shown.delete(id);
    this.posted.delete(id);
  }

  /**
   * Queues a job and posts its status message unless it has one. The job may be picked as soon as it is queued,
   * so it waits for that message before it starts; a job whose message cannot be posted fails without running.
   */
  private queueWithStatus(job: JobRecord, force: boolean): Promise<JobRecord> {
    let statusPosted!: () => void;
    this.posted.set(job.id, new Promise<void>((resolve) => (statusPosted = resolve)));
    this.queue.enqueue({ id: job.id, userId: job.userId }, { force });
    return (job.messageId ? Promise.resolve(job) : this.postStatus(job))
      .catch((e: unknown) => {
        this.o.log.warn(`could not post the status of job ${job.id} in channel ${job.channelId}`, e);
        this.queue.cancel(job.id);
        this.forget(job.id);
        this.o.store.markFailed(job.id, toErrorValue(e));
        throw e;
      })
      .finally(statusPosted);
  }

  private async postStatus(job: JobRecord): Promise<JobRecord> {
    const ref = await this.o.sink.post(job.channelId, statusMessage(job, this.stateOf(job.id), this.view));
    const withMessage = this.o.store.setMessage(job.id, ref.messageId);
    if (this.active.has(job.id)) this.active.set(job.id, withMessage);
    return withMessage;
  }

  private async run(id: number, signal: AbortSignal): Promise<void> {
    await this.posted.get(id);
    this.posted.delete(id);
    this.shown.delete(id);
    // Its status message could not be posted: submit() has already failed it.
    if (this.o.store.get(id)?.status !== 'queued') return;
    const job = this.o.store.markRunning(id);
    this.active.set(id, job);
    this.show(job, statusMessage(job, { phase: 'running' }, this.view));
    const options: RunOptions = {
      jobKey: String(id),
      signal,
      preview: { count: PREVIEWS_PER_JOB, minIntervalMs: this.o.progressIntervalMs },
      onProgress: ({ preview: image, ...p }) => {
        this.progress.set(id, p);
        if (image) this.previews.set(id, { step: p.step, total: p.total, image });
        this.show(job, statusMessage(job, { phase: 'running', progress: p, preview: this.previews.get(id) }, this.view));
      },
    };
    try {
      if (signal.aborted) throw new UserError('cancelled', `Job #${id} was cancelled.`);
      const result = await this.runOnBackend(job, options);
      // Kept before the result is shown, so that a button pressed at once finds it (a grid: its candidates' jobs).
      if ((job.request.kind === 'imagine' && result.kind === 'imagine') || (job.request.kind === 'edit' && result.kind === 'edit')) {
        this.trajectories.keep(job.request, result);
      }
      const outcome = result.kind === 'imagine-grid' ? this.storeCandidates(job, result) : outcomeOf(result);
      if (result.kind !== 'imagine-grid') this.o.store.saveImage(id, result.image.png);
      const done: JobRecord = { ...job, status: 'done', outcome };
      await this.deliver(done, await resultMessage(done, result, { uploadLimitBytes: this.o.uploadLimitBytes, view: this.view }));
      this.o.store.markDone(id, done.outcome!);
    } catch (e) {
      const cancelled = signal.aborted || (isUserError(e) && e.code === 'cancelled');
      // Bugs (ours or the engine's 'internal' errors) are logged in full; users only see a short apology.
      if (!cancelled && (!isUserError(e) || e.code === 'internal')) this.o.log.error(`job ${id} failed`, e);
      const ended = cancelled ? this.o.store.markCancelled(id) : this.o.store.markFailed(id, toErrorValue(e));
      await this.deliver(ended, endedMessage(ended, this.view));
    } finally {
      this.forget(id);
    }
  }

  /**
   * A grid's candidates become finished /imagine jobs of their own (seed + k), children of the grid job. A grid run
   * again after a restart that came between this and its delivery keeps the candidates it stored the first time.
   */
  private storeCandidates(grid: JobRecord, result: ImagineGridResult): JobOutcome {
    if (grid.request.kind !== 'imagine-grid') throw new Error(`job ${grid.id} is not a grid`);
    const request = grid.request;
    const stored = this.o.store.children(grid.id, 'grid').map((job) => job.id);
    const where = { origin: 'grid' as const, parentId: grid.id, userId: grid.userId, userName: grid.userName, guildId: grid.guildId, channelId: grid.channelId };
    const candidates = result.candidates.map((candidate, k) => {
      if (stored.length !== result.candidates.length) return this.o.store.createDone({ ...where, request: candidateRequest(request, k) }, outcomeOf(candidate), candidate.image.png).id;
      this.o.store.saveImage(stored[k], candidate.image.png);
      return stored[k];
    });
    return { kind: 'imagine-grid', sampler: result.candidates[0].params.sampler, candidates, timings: result.timings };
  }

  private async runOnBackend(job: JobRecord, options: RunOptions): Promise<ImagineResult | EditResult | Img2ImgResult | ImagineGridResult> {
    const { request } = job;
    if (request.kind === 'imagine') return this.o.backend.imagine(this.trajectories.imagineJob(request), options);
    if (request.kind === 'edit') return this.o.backend.edit(await this.withInversion(this.trajectories.editJob(request), options), options);
    if (request.kind === 'imagine-grid') return this.o.backend.imagineGrid(request, options);
    const { kind, params, strength } = request;
    return this.o.backend.img2img({ kind, params, strength, image: requireStoredImage(this.o.store, request.sourceJobId) }, options);
  }

  /**
   * An edit of a user's picture whose inversion is not kept (its first edit, or evicted since): the picture is
   * inverted first, in the same job, and the inversion kept for its re-edits.
   */
  private async withInversion(job: EditJob, options: RunOptions): Promise<EditJob> {
    const { photo } = job.params;
    if (photo === undefined || job.sourceTrajectory) return job;
    const stored = this.o.store.getPhoto(photo);
    if (!stored) throw new UserError('not_found', 'The picture this edit starts from is no longer stored: send it again with /edit photo:.');
    const inverted = await this.o.backend.invert(photoInvertJob(job.params, stored.png), options);
    this.trajectories.keepInversion(job.params, inverted.trajectory);
    return photoEditJob(job.params, inverted, job);
  }

  /** Edits the job's message into its final form; when that fails (deleted, too old) posts a new message. */
  private async deliver(job: JobRecord, message: RenderedMessage): Promise<void> {
    const ref = refOf(this.o.store.get(job.id) ?? job);
    if (ref) {
      try {
        await this.updater.final(ref, message);
        return;
      } catch (e) {
        if (isMessageGone(e)) this.o.log.info(`the message of job ${job.id} was deleted; posting the result as a new one`);
        else this.o.log.warn(`could not edit the message of job ${job.id}; posting a new one`, e);
      }
    }
    const posted = await this.o.sink.post(job.channelId, message);
    this.o.store.setMessage(job.id, posted.messageId);
  }

  private show(job: JobRecord, message: RenderedMessage): void {
    const ref = refOf(this.active.get(job.id) ?? job);
    if (ref) this.updater.update(ref, message);
  }

  private stateOf(id: number): JobState {
    if (this.queue.runningIds().includes(id)) return { phase: 'running', progress: this.progress.get(id), preview: this.previews.get(id) };
    return { phase: 'queued', position: this.queue.position(id), paused: this.pausedFor() };
  }

  private pausedFor(): PauseReason | undefined {
    if (this.queue.paused) return this.pauseReason ?? 'admin';
    return this.queue.waitingForEngine ? 'no-worker' : undefined;
  }

  /** Edits the status message of every waiting job whose position (or the paused state) changed. */
  private refreshPositions(): void {
    for (const [index, entry] of this.queue.order().entries()) {
      const job = this.active.get(entry.id);
      const state = { phase: 'queued' as const, position: index + 1, paused: this.pausedFor() };
      const key = `${state.position}/${state.paused}`;
      if (!job?.messageId || this.shown.get(entry.id) === key) continue;
      this.shown.set(entry.id, key);
      this.show(job, statusMessage(job, state, this.view));
    }
  }
}

function refOf(job: JobRecord): MessageRef | undefined {
  return job.messageId ? { channelId: job.channelId, messageId: job.messageId } : undefined;
}

function outcomeOf(result: ImagineResult | EditResult | Img2ImgResult): JobOutcome {
  if (result.kind === 'img2img') return { kind: 'img2img', sampler: result.params.sampler, strength: result.strength, timings: result.timings };
  return result.kind === 'imagine'
    ? { kind: 'imagine', sampler: result.params.sampler, truncated: result.truncated, timings: result.timings }
    : { kind: 'edit', targetPrompt: result.targetPrompt, mode: result.mode, reusedSource: result.reusedSource, timings: result.timings };
}

/**
 * The PNG a Vary or Upscale starts from: the bot keeps the image of every job it finishes (JobStore.saveImage).
 * Jobs finished before it did have none: UserError('not_found') saying so.
 */
export function requireStoredImage(store: JobStore, jobId: number): Uint8Array {
  const png = store.image(jobId);
  if (!png) throw new UserError('not_found', `The image of job #${jobId} was made before this bot kept images, so it cannot be varied or upscaled: draw it again (same seed) and use the buttons under the new one.`);
  return png;
}
