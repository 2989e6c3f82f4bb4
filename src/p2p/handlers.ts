/**
 * The application's worker handler module (see src/engine/worker/job-handler.ts): the engine's job kinds plus
 * Prompt-to-Prompt's. The UNet is loaded through the attention patch, so one session serves plain generation
 * (neutral controls), heat maps and every edit.
 *
 * Worker-wide state lives here: the patch loader (which knows the layer metadata once the UNet is loaded) and the
 * attention store of source traces, sized by the settings given to configure() (AppHandlerSettings; the bot passes
 * its ATTENTION_STORE_MB). In distributed mode the store is a cache local to each worker.
 */
import { UserError } from '../engine/errors.js';
import { engineHandlers } from '../engine/handlers.js';
import type { RgbImage } from '../engine/image.js';
import type { ImagineJob, ImagineResult } from '../engine/jobs.js';
import type { PipelineOptions } from '../engine/pipeline.js';
import type { JobContext, JobHandler, JobHandlers } from '../engine/worker/job-handler.js';
import { AttentionPatchLoader } from './graph/loader.js';
import type { PatchedUNetMeta } from './graph/contract.js';
import { AttentionAccumulator } from './heatmap.js';
import type { AppHandlerSettings } from './handlers-url.js';
import type { EditJob, EditResult } from './jobs.js';
import { AttentionController } from './runtime/attention-controller.js';
import { HEATMAP_LEVEL, heatmapOutput, runEdit } from './runtime/edit-runner.js';
import { AttentionStore, type SourceTrace, type StoreStats } from './store.js';

/** Holds one SD 1.5 512² source of 20 steps (about 1.5 GB: every cross layer and the ≤16² self layers, per call). */
const DEFAULT_SETTINGS: AppHandlerSettings = { attentionStoreMb: 2048 };

const loader = new AttentionPatchLoader();
let store = storeFor(DEFAULT_SETTINGS);

function storeFor({ attentionStoreMb }: AppHandlerSettings): AttentionStore<SourceTrace> | undefined {
  if (!Number.isFinite(attentionStoreMb) || attentionStoreMb < 0) {
    throw new UserError('bad_input', `attentionStoreMb must be a number of megabytes ≥ 0, got ${attentionStoreMb}.`);
  }
  return attentionStoreMb > 0 ? new AttentionStore<SourceTrace>({ budgetBytes: attentionStoreMb * 1024 * 1024 }) : undefined;
}

/** The worker calls this with EngineWorkerOptions.handlerSettings before loading (see HandlerModule.configure). */
export function configure(settings: unknown): void {
  store = storeFor({ ...DEFAULT_SETTINGS, ...(settings as Partial<AppHandlerSettings> | undefined) });
}

function patchedMeta(): PatchedUNetMeta {
  const meta = loader.meta;
  if (!meta) throw new Error('the attention-patched UNet is not loaded');
  return meta;
}

/** Plain generation; with `attentionMap`, the maps are captured on the way and rendered as a grid. */
const imagine: JobHandler<ImagineJob, ImagineResult> = async (ctx, job) => {
  if (!job.attentionMap) return engineHandlers.imagine(ctx, job);
  const { pipeline } = ctx;
  const accumulator = new AttentionAccumulator();
  const controller = new AttentionController({ meta: patchedMeta(), heatmap: { accumulator, promptRow: 0, level: HEATMAP_LEVEL } });
  let image: RgbImage | undefined;
  const hooks = { onProgress: ctx.onProgress, shouldCancel: ctx.shouldCancel, controller, onImage: (rgb: RgbImage) => (image = rgb) };
  const result = await pipeline.imagine(job, hooks);
  const scale = pipeline.model.vaeScaleFactor;
  const { width, height } = result.params;
  result.attentionMap = await heatmapOutput(pipeline, accumulator, job.params.prompt, height / scale, width / scale, image);
  return result;
};

const edit: JobHandler<EditJob, EditResult> = (ctx: JobContext, job) =>
  runEdit({ pipeline: ctx.pipeline, meta: patchedMeta(), store, onProgress: ctx.onProgress, shouldCancel: ctx.shouldCancel }, job);

/** Memory the attention store holds (for the benchmark). */
const storeStats: JobHandler<{ kind: 'store-stats' }, StoreStats> = async () =>
  store?.stats() ?? { entries: 0, bytes: 0, hits: 0, misses: 0, evictions: 0 };

export const handlers: JobHandlers = { ...engineHandlers, imagine, edit, 'store-stats': storeStats };

export function pipelineOptions(): Partial<PipelineOptions> {
  return { unetLoader: loader };
}
