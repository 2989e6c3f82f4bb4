/**
 * The engine's own job kinds, as a handler module for EngineWorker (see worker/job-handler.ts). Layers above
 * the engine make their own module that spreads `engineHandlers` and adds their kinds.
 */
import type { ImagineJob, ImagineResult } from './jobs.js';
import type { JobHandler, JobHandlers } from './worker/job-handler.js';

const imagine: JobHandler<ImagineJob, ImagineResult> = ({ pipeline, onProgress, shouldCancel }, job) =>
  pipeline.imagine(job, { onProgress, shouldCancel });

export const engineHandlers = { imagine } satisfies JobHandlers;

export const handlers: JobHandlers = engineHandlers;
