/**
 * The engine's own job kinds, as a handler module for EngineWorker (see worker/job-handler.ts). Layers above
 * the engine make their own module that spreads `engineHandlers` and adds their kinds.
 */
import { imagineGrid } from './grid.js';
import { img2img } from './img2img.js';
import { invertPhoto } from './inversion.js';
import type { ImagineGridJob, ImagineGridResult, ImagineJob, ImagineResult, Img2ImgJob, Img2ImgResult, InvertJob, InvertResult } from './jobs.js';
import type { JobHandler, JobHandlers } from './worker/job-handler.js';

const imagine: JobHandler<ImagineJob, ImagineResult> = ({ pipeline, onProgress, shouldCancel }, job) =>
  pipeline.imagine(job, { onProgress, shouldCancel });

const invert: JobHandler<InvertJob, InvertResult> = ({ pipeline, onProgress, shouldCancel }, job) =>
  invertPhoto(pipeline, job, { onProgress, shouldCancel });

const img2imgHandler: JobHandler<Img2ImgJob, Img2ImgResult> = ({ pipeline, onProgress, shouldCancel }, job) =>
  img2img(pipeline, job, { onProgress, shouldCancel });

const grid: JobHandler<ImagineGridJob, ImagineGridResult> = ({ pipeline, onProgress, shouldCancel }, job) =>
  imagineGrid(pipeline, job, { onProgress, shouldCancel });

export const engineHandlers = { imagine, invert, img2img: img2imgHandler, 'imagine-grid': grid } satisfies JobHandlers;

export const handlers: JobHandlers = engineHandlers;
