/**
 * Job kinds are pluggable: the worker runs whatever a handler module registers, so the engine does not depend
 * on the layers above it (Prompt-to-Prompt adds `edit` by spreading `engineHandlers` into its own module).
 */
import type { PipelineOptions, StableDiffusionPipeline } from '../pipeline.js';
import type { StepProgress } from '../jobs.js';

/** A plain-data job (it crosses postMessage); `kind` picks the handler. */
export interface Job {
  kind: string;
}

/** What a handler gets besides its job: the worker's loaded pipeline and the job's progress/cancel channels. */
export interface JobContext {
  pipeline: StableDiffusionPipeline;
  /** Forwards progress to the caller of EngineWorker.run (posted to the main thread at once). */
  onProgress(progress: StepProgress): void;
  /** True once the caller aborted this job; pass it to the pipeline so it stops between steps. */
  shouldCancel(): boolean;
}

/**
 * Runs one job inside the worker. The result must be structured-cloneable. Its typed arrays are transferred,
 * not copied, so they are unusable in the worker afterwards: return copies of anything the handler keeps (a
 * cache of latents, say). Throw UserError for what the user did wrong; any other error is reported as 'internal'.
 *
 * Declared through a method signature on purpose: method parameters are checked bivariantly, so a handler of a
 * specific job type (say ImagineJob) still fits in a `JobHandlers` record typed with the general `Job`.
 */
export type JobHandler<J extends Job = Job, R = unknown> = {
  handle(context: JobContext, job: J): Promise<R>;
}['handle'];

export type JobHandlers = Readonly<Record<string, JobHandler>>;

/** The shape of the module that `EngineWorker.start({ handlers })` points at. */
export interface HandlerModule {
  /**
   * Called once, before anything else, with EngineWorkerOptions.handlerSettings (plain data, the module's own
   * typed settings): the module's settings arrive as options, never through process.env.
   */
  configure?(settings: unknown): void;
  handlers: JobHandlers;
  /** Extra pipeline options (e.g. a UNet loader that patches attention), merged over the worker's own before loading. */
  pipelineOptions?(): Partial<PipelineOptions>;
}
