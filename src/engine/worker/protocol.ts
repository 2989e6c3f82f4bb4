/** The messages between EngineWorker (main thread) and worker-main (worker thread). All plain data. */
import type { ErrorValue } from '../errors.js';
import type { StepProgress } from '../jobs.js';
import type { ModelInfo } from '../model.js';
import type { PipelineOptions } from '../pipeline.js';
import type { Job } from './job-handler.js';

/** Pipeline options that can cross postMessage (a UNet loader is code: it comes from the handler module). */
export type WorkerPipelineOptions = Omit<PipelineOptions, 'unetLoader'>;

/** The worker's `workerData`. */
export interface WorkerInit {
  modelDir: string;
  pipeline: WorkerPipelineOptions;
  /** URL (href) of the handler module, see HandlerModule. */
  handlersUrl: string;
  /** Passed to the handler module's configure() (see HandlerModule). */
  handlerSettings: unknown;
  /** Backing store of the CancelFlag. */
  cancelBuffer: SharedArrayBuffer;
}

/** What a started worker runs on. */
export interface EngineInfo {
  model: ModelInfo;
  provider: NonNullable<PipelineOptions['provider']>;
  /** The job kinds its handler module registered. */
  kinds: string[];
  /** Time to load the model's sessions, and to warm them (0 when not asked: PipelineOptions.warmUp). */
  loadMs: number;
  warmUpMs: number;
}

export type ToWorker = { type: 'run'; id: number; job: Job } | { type: 'close' };

export type FromWorker =
  | { type: 'ready'; info: EngineInfo }
  | { type: 'loadFailed'; error: ErrorValue }
  | { type: 'progress'; id: number; progress: StepProgress }
  | { type: 'done'; id: number; result: unknown }
  | { type: 'failed'; id: number; error: ErrorValue };
