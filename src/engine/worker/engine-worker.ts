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

export interface EngineWorkerOptions<S = unknown> {
  modelDir: string;
  pipeline?: WorkerPipelineOptions;
  /** The handler module (see HandlerModule), e.g. src/engine/handlers.ts, or the Prompt-to-Prompt one. */
  handlers: URL;
  /** The handler module's settings (plain data), given to its configure(). */
  handlerSettings?: S;
}

export interface RunOptions {
  onProgress?(progress: StepProgress): void;
  /** Aborting cancels the job at its next step. */
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

/**
 * One engine, one job at a time, and no queue: run() while a job runs is refused (UserError 'internal'). Order
 * and waiting are decided above it, by the bot's FairQueue (or the caller awaiting each job).
 */
export class EngineWorker {
  private readonly cancelFlag = new CancelFlag();
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
  static async start<S>(options: EngineWorkerOptions<S>): Promise<EngineWorker> {
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
      handlerSettings: options.handlerSettings,
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

  /** True while a job runs: run() would be refused. */
  get busy(): boolean {
    return this.running !== undefined;
  }

  /**
   * Runs one job in the worker and resolves with the handler's result (R is the caller's claim about the
   * handler of `job.kind`). One job at a time: a call while one runs rejects with UserError('internal'). A
   * cancelled job rejects with UserError('cancelled'); a crash of the worker rejects its job.
   */
  run<R>(job: Job, options: RunOptions = {}): Promise<R> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.running) return Promise.reject(new UserError('internal', 'The engine is already running a job: the queue in front of it must wait for it.'));
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
      const onAbort = (): void => this.cancelFlag.request(pending.id);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.start(pending);
    });
  }

  /**
   * Stops the worker: the running job is cancelled at its next step, then the worker releases its sessions and
   * ends (or is terminated if it does not within a few seconds).
   */
  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    const stopped = new UserError('cancelled', 'The engine is shutting down.');
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

  private start(next: PendingJob): void {
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
  }

  /** The worker is gone: its running job (and a pending start) reject, later runs too. */
  private fail(message: string): void {
    if (this.failure) return;
    this.failure = new UserError('internal', message);
    this.settleReady.reject(this.failure);
    this.running?.reject(this.failure);
    this.running = undefined;
  }
}
