/**
 * The image engine as the bot sees it. The real implementation (./engine-backend.ts) runs the engine in a
 * worker thread; tests use an in-process fake. Nothing on this side of the port touches ONNX Runtime.
 */
import type { ImagineGridJob, ImagineGridResult, ImagineJob, ImagineResult, Img2ImgJob, Img2ImgResult, InvertJob, InvertResult, StepProgress } from '../engine/jobs.js';
import type { PreviewOptions } from '../engine/preview.js';
import type { SamplerName } from '../engine/schedulers/scheduler.js';
import type { EditJob, EditResult } from '../p2p/jobs.js';

export interface RunOptions {
  /**
   * The job's stable identity (the bot's job id): a backend that hands jobs to other processes uses it so that a
   * job submitted twice (after a restart or a reconnect) runs and is delivered once.
   */
  jobKey?: string;
  /** Called after every UNet evaluation. */
  onProgress(progress: StepProgress): void;
  /** Aborting it cancels the job between steps: the promise rejects with UserError('cancelled'). */
  signal: AbortSignal;
  /** Attach live previews to some progress reports. */
  preview?: PreviewOptions;
}

/** What the loaded model accepts. The bot combines these with the operator's caps (MAX_STEPS, MAX_SIZE). */
export interface BackendLimits {
  maxSteps: number;
  /** Largest width and height in pixels. */
  maxSize: number;
  minSize: number;
  /** Width and height must be multiples of this (the UNet downsamples the latent 3 times). */
  sizeMultiple: number;
  guidance: { min: number; max: number };
  samplers: readonly SamplerName[];
}

export interface BackendInfo {
  /** The model's folder name, shown in results. */
  model: string;
  provider: string;
  /** The sampler of jobs that do not name one (the model's scheduler_config.json), shown in their messages. */
  defaultSampler: SamplerName;
}

export interface ImageBackend {
  readonly limits: BackendLimits;
  readonly info: BackendInfo;
  /**
   * How many jobs the backend runs at once, now and whenever it changes (engine workers connect or go away; 0 =
   * none connected). The listener is called once at once. Absent: one engine, always there.
   * Returns a function that stops the calls.
   */
  watchCapacity?(listener: (engines: number) => void): () => void;
  imagine(job: ImagineJob, opts: RunOptions): Promise<ImagineResult>;
  edit(job: EditJob, opts: RunOptions): Promise<EditResult>;
  /** Vary / Upscale: the engine's image-to-image of `job.image` (a finished job's PNG). */
  img2img(job: Img2ImgJob, opts: RunOptions): Promise<Img2ImgResult>;
  /** A grid: `count` candidates, seeds seed, seed+1, …, drawn as one batch; candidate k equals imagine with seed+k. */
  imagineGrid(job: ImagineGridJob, opts: RunOptions): Promise<ImagineGridResult>;
  /** A user's picture → its DDIM inversion (the source trajectory of its edits). */
  invert(job: InvertJob, opts: RunOptions): Promise<InvertResult>;
  close(): Promise<void>;
}
