/**
 * The one queue of the bot, in front of its engines (one in-process, or the workers on Redis). p-queue holds the
 * slots: its concurrency is the number of engines free to take work, and it does the pausing and idle tracking.
 * Which job a free slot runs is decided when the slot starts, by a fair picker: the waiting user who was served
 * least recently goes first (round-robin across users), so one user's ten jobs do not hold everyone else back.
 * Engines below this queue run what they are handed, one job each: they keep no queue of their own.
 */
import PQueue from 'p-queue';
import { UserError } from '../engine/errors.js';

export interface QueueLimits {
  /** Jobs run at once: the number of engines (0: none yet, jobs wait for one, see setConcurrency). */
  concurrency: number;
  /** Waiting jobs (not counting running ones) before new jobs are refused. */
  maxLength: number;
  /** Waiting + running jobs per user. */
  userMaxPending: number;
}

export interface QueueEntry {
  id: number;
  userId: string;
}

/** Runs one job. It should settle its job itself; a rejection goes to `onError` and the queue moves on. */
export type JobRunner = (id: number, signal: AbortSignal) => Promise<void>;

export interface QueueHooks {
  /** After every change of the waiting positions, the running set, or the paused state. */
  onChange?(): void;
  onError?(id: number, error: unknown): void;
}

interface Waiting extends QueueEntry {
  /** Arrival order, to break ties between users never served. */
  seq: number;
}

export class FairQueue {
  private readonly slots: PQueue;
  private readonly waiting: Waiting[] = [];
  private readonly running = new Map<number, { userId: string; controller: AbortController }>();
  /** userId → the serve counter when that user's last job started. */
  private readonly lastServed = new Map<string, number>();
  private serveCounter = 0;
  private arrivalCounter = 0;
  private adminPaused = false;
  private engines: number;

  constructor(
    private readonly limits: QueueLimits,
    private readonly runJob: JobRunner,
    private readonly hooks: QueueHooks = {},
  ) {
    this.engines = limits.concurrency;
    this.slots = new PQueue({ concurrency: Math.max(1, limits.concurrency), autoStart: limits.concurrency > 0 });
  }

  /** The number of engines changed (workers came or went): that many jobs run at once; 0 holds every job. */
  setConcurrency(engines: number): void {
    if (engines === this.engines) return;
    this.engines = engines;
    if (engines > 0) this.slots.concurrency = engines;
    this.applyHold();
  }

  /** True while jobs wait because no engine is there to run them (not paused by anyone). */
  get waitingForEngine(): boolean {
    return this.engines === 0;
  }

  private applyHold(): void {
    const hold = this.adminPaused || this.engines === 0;
    if (hold === this.slots.isPaused) return this.changed();
    if (hold) this.slots.pause();
    else this.slots.start();
    this.changed();
  }

  private changed(): void {
    this.hooks.onChange?.();
  }

  /** Throws UserError('busy') when the queue or the user's share of it is full. */
  assertAccepts(userId: string): void {
    if (this.waiting.length >= this.limits.maxLength) {
      throw new UserError('busy', `The queue is full (${this.limits.maxLength} jobs waiting). Try again in a few minutes.`);
    }
    const mine = this.pendingOf(userId);
    if (mine >= this.limits.userMaxPending) {
      throw new UserError(
        'busy',
        `You already have ${mine} job${mine === 1 ? '' : 's'} queued or running (the limit is ${this.limits.userMaxPending}). ` +
          'Wait for one to finish, or cancel one with /queue cancel.',
      );
    }
  }

  /** Adds a job; `force` skips the limits (jobs accepted before a restart). Returns its 1-based position. */
  enqueue(entry: QueueEntry, options: { force?: boolean } = {}): number {
    if (!options.force) this.assertAccepts(entry.userId);
    this.waiting.push({ ...entry, seq: ++this.arrivalCounter });
    // Every job adds one slot, so there are always at least as many slots as waiting jobs; a slot whose job was
    // cancelled finds the next one (or nothing).
    void this.slots.add(() => this.runNext());
    this.changed();
    return this.position(entry.id) ?? 0;
  }

  /** Cancels a waiting job (it never runs) or aborts a running one. Returns what it found. */
  cancel(id: number): 'waiting' | 'running' | 'absent' {
    const index = this.waiting.findIndex((w) => w.id === id);
    if (index >= 0) {
      this.waiting.splice(index, 1);
      this.changed();
      return 'waiting';
    }
    const run = this.running.get(id);
    if (run) {
      run.controller.abort();
      return 'running';
    }
    return 'absent';
  }

  /** 1-based place among the waiting jobs in the order they will start, or undefined when not waiting. */
  position(id: number): number | undefined {
    const index = this.order().findIndex((w) => w.id === id);
    return index < 0 ? undefined : index + 1;
  }

  /** Waiting jobs in the order they will start (assuming nothing else arrives). */
  order(): QueueEntry[] {
    const served = new Map(this.lastServed);
    let counter = this.serveCounter;
    const left = [...this.waiting];
    const order: QueueEntry[] = [];
    while (left.length > 0) {
      const next = this.pick(left, served);
      left.splice(left.indexOf(next), 1);
      served.set(next.userId, ++counter);
      order.push({ id: next.id, userId: next.userId });
    }
    return order;
  }

  runningIds(): number[] {
    return [...this.running.keys()];
  }

  pendingOf(userId: string): number {
    const waiting = this.waiting.filter((w) => w.userId === userId).length;
    const running = [...this.running.values()].filter((r) => r.userId === userId).length;
    return waiting + running;
  }

  get size(): number {
    return this.waiting.length;
  }

  /** Paused by pause() (an admin, a shutdown); see waitingForEngine for the other reason jobs may wait. */
  get paused(): boolean {
    return this.adminPaused;
  }

  /** Stops starting jobs; running ones finish. */
  pause(): void {
    this.adminPaused = true;
    this.applyHold();
  }

  resume(): void {
    this.adminPaused = false;
    this.applyHold();
  }

  /** Resolves when nothing waits or runs (a paused queue with waiting jobs never resolves). */
  async onIdle(): Promise<void> {
    await this.slots.onIdle();
  }

  private async runNext(): Promise<void> {
    if (this.waiting.length === 0) return;
    const next = this.pick(this.waiting, this.lastServed);
    this.waiting.splice(this.waiting.indexOf(next), 1);
    this.lastServed.set(next.userId, ++this.serveCounter);
    const controller = new AbortController();
    this.running.set(next.id, { userId: next.userId, controller });
    this.changed();
    try {
      await this.runJob(next.id, controller.signal);
    } catch (error) {
      this.hooks.onError?.(next.id, error);
    } finally {
      this.running.delete(next.id);
      this.changed();
    }
  }

  /** The head job of the user served least recently; users never served go by their first job's arrival. */
  private pick(candidates: readonly Waiting[], lastServed: ReadonlyMap<string, number>): Waiting {
    let best = candidates[0];
    for (const c of candidates) {
      const servedC = lastServed.get(c.userId) ?? 0;
      const servedBest = lastServed.get(best.userId) ?? 0;
      if (servedC < servedBest || (servedC === servedBest && c.seq < best.seq)) best = c;
    }
    return best;
  }
}
