/**
 * The real ImageBackend: the engine's worker thread (EngineWorker) running the application's handler module
 * (generation plus Prompt-to-Prompt on the attention-patched UNet). ONNX Runtime lives in that thread only.
 */
import type { ImagineGridJob, ImagineGridResult, ImagineJob, ImagineResult, Img2ImgJob, Img2ImgResult, InvertJob, InvertResult } from '../engine/jobs.js';
import { SIZE_RANGE, STEPS_RANGE } from '../engine/limits.js';
import { SAMPLER_NAMES } from '../engine/schedulers/scheduler.js';
import type { WarmUpOptions } from '../engine/pipeline.js';
import { EngineWorker, type EngineInfo, type WorkerPipelineOptions } from '../engine/worker/engine-worker.js';
import { APP_HANDLERS_URL, type AppHandlerSettings } from '../p2p/handlers-url.js';
import type { EditJob, EditResult } from '../p2p/jobs.js';
import type { BackendInfo, BackendLimits, ImageBackend, RunOptions } from './backend.js';
import type { EngineConfig } from './config.js';
import type { Logger } from './log.js';

/** The engine's own bounds on sizes and steps. */
const ENGINE_BOUNDS = { minSize: SIZE_RANGE.min, maxSize: SIZE_RANGE.max, maxSteps: STEPS_RANGE.max };
/** The engine takes any guidance; beyond this images are only noise, so the bot stops there. */
const GUIDANCE_BOUND = 50;

/** Starts the worker and loads the model (rejects with UserError('model' | 'provider') when it cannot). */
export async function startEngineBackend(engine: EngineConfig & { modelDir: string }, start: EngineStart = {}): Promise<ImageBackend> {
  return new EngineBackend(await startAppEngine(engine, start));
}

export interface EngineStart {
  /** Warm the sessions at these shapes before the engine reports ready (the bot and `reprompt worker` do). */
  warmUp?: WarmUpOptions;
  /** Told the time to ready (model load + warm-up). */
  log?: Logger;
}

/** The engine worker thread on the application's handler module, configured from the engine settings. */
export async function startAppEngine(engine: EngineConfig, start: EngineStart = {}): Promise<EngineWorker> {
  const pipeline: WorkerPipelineOptions = { provider: engine.provider, warmUp: start.warmUp };
  if (engine.threads > 0) pipeline.intraOpThreads = engine.threads;
  const handlerSettings: AppHandlerSettings = { attentionStoreMb: engine.attentionStoreMb };
  const worker = await EngineWorker.start({ modelDir: engine.modelDir, pipeline, handlers: APP_HANDLERS_URL, handlerSettings });
  start.log?.info(`engine ${readyLine(worker.info)}`);
  return worker;
}

/** The shapes the bot's jobs run most: plain images and trajectory edits at the default size. */
export function defaultWarmUp(size: number): WarmUpOptions {
  return { width: size, height: size, promptRows: [1, 2] };
}

/** "ready in 12.3 s (model 10.1 s, warm-up 2.2 s)" for logs. */
export function readyLine(info: EngineInfo): string {
  const s = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
  return `ready in ${s(info.loadMs + info.warmUpMs)} (model ${s(info.loadMs)}, warm-up ${info.warmUpMs > 0 ? s(info.warmUpMs) : 'none'})`;
}

/** What the bot allows on a model of this image-to-latent scale (the engine's bounds; sizes in its multiples). */
export function engineLimits(vaeScaleFactor: number): BackendLimits {
  return { ...ENGINE_BOUNDS, sizeMultiple: vaeScaleFactor, guidance: { min: -GUIDANCE_BOUND, max: GUIDANCE_BOUND }, samplers: SAMPLER_NAMES };
}

class EngineBackend implements ImageBackend {
  readonly limits: BackendLimits;
  readonly info: BackendInfo;

  constructor(private readonly worker: EngineWorker) {
    const { model, provider } = worker.info;
    this.info = { model: model.name, provider, defaultSampler: model.defaultSampler };
    this.limits = engineLimits(model.vaeScaleFactor);
  }

  imagine(job: ImagineJob, opts: RunOptions): Promise<ImagineResult> {
    return this.worker.run<ImagineResult>(withPreview(job, opts), opts);
  }

  edit(job: EditJob, opts: RunOptions): Promise<EditResult> {
    return this.worker.run<EditResult>(withPreview(job, opts), opts);
  }

  img2img(job: Img2ImgJob, opts: RunOptions): Promise<Img2ImgResult> {
    return this.worker.run<Img2ImgResult>(job, opts);
  }

  imagineGrid(job: ImagineGridJob, opts: RunOptions): Promise<ImagineGridResult> {
    return this.worker.run<ImagineGridResult>(job, opts);
  }

  invert(job: InvertJob, opts: RunOptions): Promise<InvertResult> {
    return this.worker.run<InvertResult>(job, opts);
  }

  close(): Promise<void> {
    return this.worker.close();
  }
}

/** Previews are asked for per run (the stored job stays what the user asked for). */
const withPreview = <J extends ImagineJob | EditJob>(job: J, opts: RunOptions): J => (opts.preview ? { ...job, preview: opts.preview } : job);
