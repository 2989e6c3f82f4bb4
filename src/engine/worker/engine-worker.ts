/**
 * The main-thread handle of the engine's worker thread. onnxruntime-node's session.run() is synchronous and
 * holds its thread for a whole UNet call, so the pipeline lives in a worker_thread and the main thread (the
 * Discord gateway heartbeat, the CLI's progress bar) keeps running.
 */
import { Worker } from 'node:worker_threads';
import { errorMessage, fromErrorValue, UserError } from '../errors.js';
import type { StepProgress } from '../jobs.js';
import { isBuiltModule, siblingModule } from '../module-url.js';
import { disableOrtTelemetry } from '../ort-telemetry.js';
import { CancelFlag } from './cancel-flag.js';
import type { Job } from './job-handler.js';
import type { EngineInfo, FromWorker, ToWorker, WorkerInit, WorkerPipelineOptions } from './protocol.js';

export type { EngineInfo, WorkerPipelineOptions } from './protocol.js';

/** Built JavaScript starts worker-main directly; the TypeScript sources need bootstrap.mjs to register tsx first. */
const WORKER_URL = isBuiltModule(import.meta.url) ? siblingModule(import.meta.url, './worker-main') : new URL('./bootstrap.mjs', import.meta.url);
/** How long close() waits for the worker to release its sessions and end before it terminates the thread. */
const CLOSE_TIMEOUT_MS = 10_000;

export interface EngineWorkerOptions {
  modelDir: string;
  pipeline?: WorkerPipelineOptions;
  /** The handler module (see HandlerModule), e.g. src/engine/handlers.ts, or the Prompt-to-Prompt one. */
  handlers: URL;
}

export interface RunOptions {
  onProgress?(progress: StepProgress): void;
  /** Aborting cancels the job: a queued one at once, a running one at its next step. */
  signal?: AbortSignal;
}

interface PendingJob {
  id: number;
  job: Job;
  onProgress?(progress: StepProgress): void;
  resolve(result: unknown): void;
  reject(error: UserError): void;
}

const cancelledError = (): UserError => new UserError('cancelled', 'The job was cancelled.');

export class EngineWorker {
  private readonly cancelFlag = new CancelFlag();
  private readonly queue: PendingJob[] = [];
  private running: PendingJob | undefined;
  private nextJobId = 1;
  /** Set once the worker is gone (crashed or closed): every later run() rejects with it. */
  private failure: UserError | undefined;
  private closing: Promise<void> | undefined;
  private loadedInfo: EngineInfo | undefined;
  private readonly ready: Promise<EngineInfo>;
  private settleReady!: { resolve(info: EngineInfo): void; reject(error: UserError): void };
  private readonly worker: Worker;

  /**
   * Spawns the worker and waits until it has loaded the pipeline. Rejects with the loading error (a
   * UserError('model') for a bad model folder). After a crash, start a new one with the same options.
   */
  static async start(options: EngineWorkerOptions): Promise<EngineWorker> {
    const engine = new EngineWorker(options);
    await engine.ready;
    return engine;
  }

  private constructor(readonly options: EngineWorkerOptions) {
    this.ready = new Promise((resolve, reject) => (this.settleReady = { resolve, reject }));
    const init: WorkerInit = {
      modelDir: options.modelDir,
      pipeline: options.pipeline ?? {},
      handlersUrl: options.handlers.href,
      cancelBuffer: this.cancelFlag.buffer,
    };
    disableOrtTelemetry();
    this.worker = new Worker(WORKER_URL, { workerData: init });
    this.worker.on('message', (message: FromWorker) => this.onMessage(message));
    this.worker.on('error', (error) => this.fail(`The engine worker crashed: ${errorMessage(error)}`));
    this.worker.on('messageerror', (error) => this.fail(`The engine worker sent an unreadable message: ${errorMessage(error)}`));
    this.worker.on('exit', (code) => this.fail(`The engine worker stopped unexpectedly (exit code ${code}).`));
  }

  /** The model, provider and job kinds of the loaded worker. */
  get info(): EngineInfo {
    if (!this.loadedInfo) throw new Error('EngineWorker.info read before the worker was ready');
    return this.loadedInfo;
  }

  /** False once the worker has crashed or been closed. */
  get alive(): boolean {
    return this.failure === undefined;
  }

  /**
   * Runs one job in the worker and resolves with the handler's result (R is the caller's claim about the
   * handler of `job.kind`). Jobs run one at a time, in call order. A cancelled job rejects with
   * UserError('cancelled'); a crash of the worker rejects its job and all queued ones.
   */
  run<R>(job: Job, options: RunOptions = {}): Promise<R> {
    if (this.failure) return Promise.reject(this.failure);
    const { signal, onProgress } = options;
    if (signal?.aborted) return Promise.reject(cancelledError());
    return new Promise<R>((resolve, reject) => {
      const stopListening = (): void => signal?.removeEventListener('abort', onAbort);
      const pending: PendingJob = {
        id: this.nextJobId++,
        job,
        onProgress,
        resolve: (result) => {
          stopListening();
          resolve(result as R);
        },
        reject: (error) => {
          stopListening();
          reject(error);
        },
      };
      const onAbort = (): void => this.cancel(pending);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.queue.push(pending);
      this.startNext();
    });
  }

  /**
   * Stops the worker: queued jobs reject with 'cancelled', the running one is cancelled at its next step, then
   * the worker releases its sessions and ends (or is terminated if it does not within a few seconds).
   */
  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    const stopped = new UserError('cancelled', 'The engine is shutting down.');
    for (const pending of this.queue.splice(0)) pending.reject(stopped);
    if (this.running) this.cancelFlag.request(this.running.id);
    if (this.failure) return;
    this.failure = new UserError('internal', 'The engine worker is closed.');
    const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    this.post({ type: 'close' });
    const timer = setTimeout(() => void this.worker.terminate(), CLOSE_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
    // A job still running when the worker ended (it ignored the cancel) has no answer coming.
    this.running?.reject(stopped);
    this.running = undefined;
  }

  private cancel(pending: PendingJob): void {
    if (this.running === pending) {
      this.cancelFlag.request(pending.id);
      return;
    }
    const index = this.queue.indexOf(pending);
    if (index >= 0) {
      this.queue.splice(index, 1);
      pending.reject(cancelledError());
    }
  }

  private startNext(): void {
    if (this.running || this.failure) return;
    const next = this.queue.shift();
    if (!next) return;
    this.running = next;
    try {
      this.post({ type: 'run', id: next.id, job: next.job });
    } catch (error) {
      // The job itself could not be cloned (a function, a class instance...): a caller's bug, not the worker's.
      const reason = new UserError('internal', `The job could not be sent to the engine: ${errorMessage(error)}`);
      this.finish(next.id, (pending) => pending.reject(reason));
    }
  }

  private post(message: ToWorker): void {
    this.worker.postMessage(message);
  }

  private onMessage(message: FromWorker): void {
    switch (message.type) {
      case 'ready':
        this.loadedInfo = message.info;
        this.settleReady.resolve(message.info);
        return;
      case 'loadFailed':
        this.failure = fromErrorValue(message.error);
        this.settleReady.reject(this.failure);
        void this.worker.terminate();
        return;
      case 'progress':
        if (this.running?.id === message.id) this.running.onProgress?.(message.progress);
        return;
      case 'done':
        this.finish(message.id, (pending) => pending.resolve(message.result));
        return;
      case 'failed':
        this.finish(message.id, (pending) => pending.reject(fromErrorValue(message.error)));
        return;
    }
  }

  private finish(id: number, settle: (pending: PendingJob) => void): void {
    const pending = this.running;
    if (pending?.id !== id) return;
    this.running = undefined;
    settle(pending);
    this.startNext();
  }

  /** The worker is gone: its running and queued jobs (and a pending start) reject, later runs too. */
  private fail(message: string): void {
    if (this.failure) return;
    this.failure = new UserError('internal', message);
    this.settleReady.reject(this.failure);
    for (const pending of [this.running, ...this.queue.splice(0)]) pending?.reject(this.failure);
    this.running = undefined;
  }
}
