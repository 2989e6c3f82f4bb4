/**
 * Runs one Prompt-to-Prompt edit on a loaded pipeline whose UNet carries the attention-control patch:
 * parse → plan → source branch → denoise → decode → PNG. The source branch comes, cheapest first, from
 *   - the attention store (a hot cache of source traces): the batch holds the edit rows only (2 UNet rows);
 *   - the job's source trajectory: the source row runs cond only and is put back on its stored latents after
 *     every step (3 UNet rows; the reference edits only the cond half, so the result is the full edit's);
 *   - neither: the source row runs with its own guidance pair, as a plain generation of it would (4 UNet rows),
 *     and its trajectory is recorded and returned for later edits.
 *
 * The source branch always keeps the source image's own settings (its guidance included), so the source row of an
 * edit is the source image itself, and a re-edit may reuse it whatever the edit's own guidance.
 */
import { UserError } from '../../engine/errors.js';
import { encodePng, formatParameters, type RgbImage } from '../../engine/image.js';
import type { ImageOutput, ImagineParams } from '../../engine/jobs.js';
import { normalizeSeed } from '../../engine/noise.js';
import type { PromptRow, StableDiffusionPipeline } from '../../engine/pipeline.js';
import { createScheduler } from '../../engine/schedulers/index.js';
import type { SamplerName } from '../../engine/schedulers/scheduler.js';
import { checkTrajectory, trajectoryEntry, type Trajectory } from '../../engine/trajectory.js';
import { DEFAULT_BLEND_LEVEL, LocalBlend } from '../blend.js';
import { blendRowTokens, buildEditPlan } from '../edit/controls.js';
import { parseEdit } from '../edit/language.js';
import { DEFAULT_CROSS_WINDOW, DEFAULT_SELF_THRESHOLD, DEFAULT_SELF_WINDOW, levelSize, type SelfThreshold } from '../edit/schedule.js';
import type { PatchedUNetMeta } from '../graph/contract.js';
import { AttentionAccumulator, promptTokenLabels, renderHeatmapGrid } from '../heatmap.js';
import type { EditJob, EditResult, StepWindow } from '../jobs.js';
import type { AttentionStore, SourceTrace } from '../store.js';
import { AttentionController } from './attention-controller.js';

/** The level of the heat-map grid: latent/4, the paper's 16×16 maps of a 512² image. */
export const HEATMAP_LEVEL = 2;

export interface EditContext {
  pipeline: StableDiffusionPipeline;
  meta: PatchedUNetMeta;
  /** Source traces of earlier edits; undefined disables re-use. */
  store?: AttentionStore<SourceTrace>;
  onProgress?(p: { step: number; total: number; elapsedMs: number; etaMs: number }): void;
  shouldCancel?(): boolean;
}

/** The store key of a source branch: everything its attention and latents depend on (and which layers it kept). */
export function sourceTraceKey(
  meta: PatchedUNetMeta,
  source: ImagineParams & { sampler: string },
  selfThreshold: SelfThreshold = DEFAULT_SELF_THRESHOLD,
): string {
  const { prompt, negativePrompt, seed, steps, guidance, width, height, sampler } = source;
  return JSON.stringify([meta.sourceSha256, prompt, negativePrompt, seed, steps, guidance, width, height, sampler, selfThreshold, DEFAULT_BLEND_LEVEL]);
}

/** The self-attention threshold of an edit: layers with maps of at most `side`×`side` pixels. */
function selfThreshold(side: number | undefined): SelfThreshold {
  if (side === undefined) return DEFAULT_SELF_THRESHOLD;
  if (!Number.isInteger(side) || side < 1) throw new UserError('bad_input', `The self-attention resolution must be a whole number of pixels ≥ 1, got ${side}.`);
  return { maxQuery: side * side };
}

const windowText = (w: StepWindow): string => (Array.isArray(w) ? `${w[0]}-${w[1]}` : String(w));

/** Throws UserError('bad_input') unless `trajectory` is one of a run of this source's steps, sampler and size. */
function checkSourceTrajectory(pipeline: StableDiffusionPipeline, source: ImagineParams & { sampler: SamplerName }, trajectory: Trajectory): void {
  const scheduler = createScheduler(pipeline.model.schedulerConfig, source.sampler);
  scheduler.setTimesteps(source.steps);
  const scale = pipeline.model.vaeScaleFactor;
  const channels = pipeline.unet.latentChannels ?? pipeline.model.latentChannels ?? trajectory.shape[1];
  checkTrajectory(trajectory, scheduler.timesteps.length, [channels, source.height / scale, source.width / scale]);
}

export async function runEdit(ctx: EditContext, job: EditJob): Promise<EditResult> {
  const started = performance.now();
  const { pipeline, meta, store } = ctx;
  const p = job.params;
  pipeline.validate(p.source);
  const source = { ...p.source, seed: normalizeSeed(p.source.seed), sampler: p.source.sampler ?? pipeline.model.defaultSampler };
  const guidance = p.guidance ?? source.guidance;
  if (!Number.isFinite(guidance)) throw new UserError('bad_input', `The guidance scale must be a number, got ${p.guidance}.`);

  const parsed = parseEdit({ source: source.prompt, edit: p.edit, weights: p.weights, blend: p.blend });
  const cross = p.cross ?? DEFAULT_CROSS_WINDOW;
  const self = p.self ?? DEFAULT_SELF_WINDOW;
  const plan = buildEditPlan(parsed, pipeline.tokenizer, {
    steps: source.steps,
    cross,
    self,
    selfThreshold: selfThreshold(p.selfResolution),
    referenceTailBug: p.referenceMapper,
  });

  const key = sourceTraceKey(meta, source, plan.selfThreshold);
  const stored = store?.get(key);
  const replay = stored && stored.prompt === source.prompt ? stored : undefined;
  const trajectory = replay ? undefined : job.sourceTrajectory;
  if (p.photo !== undefined && !replay && !trajectory) {
    throw new UserError('bad_input', 'This edit of a picture came without the picture’s inversion: invert the picture first (its source cannot be drawn from a prompt).');
  }
  if (trajectory) checkSourceTrajectory(pipeline, source, trajectory);
  const blendTokens = blendRowTokens(plan, pipeline.tokenizer);
  const blend = blendTokens ? new LocalBlend(blendTokens, meta.textLength, { sourceInBatch: !replay }) : undefined;
  const accumulator = job.attentionMap ? new AttentionAccumulator() : undefined;
  const controller = new AttentionController({
    meta,
    plan,
    replay,
    trajectory,
    record: store && !replay ? { prompt: source.prompt, blendLevel: DEFAULT_BLEND_LEVEL, selfThreshold: plan.selfThreshold } : undefined,
    blend,
    heatmap: accumulator ? { accumulator, promptRow: 1, level: HEATMAP_LEVEL } : undefined,
  });

  // A replayed source needs its cond attention only: guidance 1 gives it no uncond row.
  const sourceRow: PromptRow = { prompt: source.prompt, negativePrompt: source.negativePrompt, guidance: trajectory ? 1 : source.guidance };
  const targetRow: PromptRow = { prompt: parsed.target, negativePrompt: source.negativePrompt, guidance };
  const denoised = await pipeline.denoise({
    rows: replay ? [targetRow] : [sourceRow, targetRow],
    startLatents: trajectory ? trajectoryEntry(trajectory, 0) : undefined,
    recordTrajectory: replay || trajectory ? undefined : 0,
    seed: source.seed,
    steps: source.steps,
    width: source.width,
    height: source.height,
    sampler: source.sampler,
    controller,
    onProgress: ctx.onProgress,
    preview: job.preview,
    shouldCancel: ctx.shouldCancel,
  });
  const recorded = controller.recorded;
  if (store && recorded && recorded.perCall.length === denoised.timings.unetCalls) store.set(key, recorded);

  const [rows, channels, h, w] = denoised.shape;
  const latentSize = channels * h * w;
  const target = denoised.latents.slice((rows - 1) * latentSize);
  const decodeStarted = performance.now();
  const [targetImage] = await pipeline.decode(target, [1, channels, h, w]);
  const extra = {
    'Edit': p.edit,
    'Edit mode': parsed.mode,
    'Source prompt': source.prompt,
    'Source CFG scale': source.guidance,
    'Cross': windowText(cross),
    'Self': windowText(self),
  };
  const params = { ...source, prompt: parsed.target, guidance, model: pipeline.model.name, extra };
  const result: EditResult = {
    kind: 'edit',
    params: { ...p, source },
    targetPrompt: parsed.target,
    mode: parsed.mode,
    image: await pngOutput(targetImage, formatParameters(params)),
    reusedSource: replay !== undefined,
    sourceFrom: replay ? 'store' : trajectory ? 'trajectory' : 'guided',
    timings: { ...denoised.timings },
  };
  if (denoised.trajectory) result.sourceTrajectory = denoised.trajectory;
  if (job.sourceImage && !replay) {
    // With a trajectory the source row ends on its last entry, put there by the controller.
    const [sourceImage] = await pipeline.decode(denoised.latents.slice(0, latentSize), [1, channels, h, w]);
    result.source = await pngOutput(sourceImage, formatParameters({ ...source, model: pipeline.model.name }));
  }
  result.timings.vaeMs = performance.now() - decodeStarted;
  if (accumulator) result.attentionMap = await heatmapOutput(pipeline, accumulator, parsed.target, h, w, targetImage);
  if (job.returnLatents) result.latents = { data: target, shape: [1, channels, h, w] };
  result.timings.totalMs = performance.now() - started;
  return result;
}

async function pngOutput(image: RgbImage, parameters: string): Promise<ImageOutput> {
  return { png: await encodePng(image, { parameters }), width: image.width, height: image.height };
}

/** The labelled per-token grid of the maps accumulated at HEATMAP_LEVEL, laid over the image. */
export async function heatmapOutput(
  pipeline: StableDiffusionPipeline,
  accumulator: AttentionAccumulator,
  prompt: string,
  latentHeight: number,
  latentWidth: number,
  image?: RgbImage,
): Promise<ImageOutput> {
  const { height, width } = levelSize(latentHeight, latentWidth, HEATMAP_LEVEL);
  const png = await renderHeatmapGrid({
    maps: accumulator.mean(HEATMAP_LEVEL),
    h: height,
    w: width,
    tokens: promptTokenLabels(prompt, pipeline.tokenizer),
    image,
    title: `Attention of: ${prompt}`,
  });
  const { width: gridWidth, height: gridHeight } = pngSize(png);
  return { png, width: gridWidth, height: gridHeight };
}

/** Width and height from a PNG's IHDR chunk. */
function pngSize(png: Uint8Array): { width: number; height: number } {
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  return { width: view.getUint32(16), height: view.getUint32(20) };
}
