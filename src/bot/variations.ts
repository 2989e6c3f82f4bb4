/**
 * The jobs the buttons under a result make (./actions.ts says which button makes which). Labels and the jobs
 * behind them come from the same functions, so a button pressed after a restart does exactly what its label said.
 */
import { UPSCALE_FACTOR, UPSCALE_STRENGTH, VARY_STRENGTH } from '../engine/img2img.js';
import type { ImagineParams } from '../engine/jobs.js';
import { randomSeed } from '../engine/noise/seed.js';
import type { BackendLimits } from './backend.js';
import { scaledCross } from './edits.js';
import type { JobOrigin, JobRecord, JobRequest } from './job.js';

export interface Variation {
  origin: JobOrigin;
  label: string;
  request: JobRequest;
}

/** The guidance a job's image was made with (an edit without its own uses its source's). */
function guidanceOf(request: JobRequest): number {
  return request.kind === 'edit' ? (request.params.guidance ?? request.params.source.guidance) : request.params.guidance;
}

/**
 * Same seed, other guidance: half, one and a half times, and the opposite sign. A negative scale steers the image
 * away from the prompt (the unconditional prediction is extrapolated past), so its label says so.
 */
export function guidanceVariation(job: JobRecord, action: 'cfg-lower' | 'cfg-higher' | 'cfg-negative', limits: BackendLimits): Variation | undefined {
  const g = guidanceOf(job.request);
  const sign = g < 0 ? -1 : 1;
  const target = {
    'cfg-lower': sign * roundHalf(Math.abs(g) * 0.5),
    'cfg-higher': sign * roundHalf(Math.abs(g) * 1.5),
    'cfg-negative': -g,
  }[action];
  const value = Math.min(limits.guidance.max, Math.max(limits.guidance.min, target));
  if (value === g || Object.is(value, -0)) return undefined;
  const note = value < 0 ? 'away from prompt' : value < g ? 'lower' : 'higher';
  return { origin: action, label: `CFG ${formatNumber(value)} (${note})`, request: withGuidance(job.request, value) };
}

/** A new random seed, everything else the same (generations and grids only). */
export function rerollVariation(job: JobRecord): Variation | undefined {
  const { request } = job;
  if (request.kind !== 'imagine' && request.kind !== 'imagine-grid') return undefined;
  return { origin: 'reroll', label: 'Reroll', request: { ...request, params: { ...request.params, seed: randomSeed() } } };
}

/** The same edit of the same source with a shorter (stronger) or longer (weaker) cross-attention window. */
export function strengthVariation(job: JobRecord, direction: 'stronger' | 'weaker'): Variation | undefined {
  if (job.request.kind !== 'edit') return undefined;
  const cross = scaledCross(job.request.params, direction);
  if (cross === undefined) return undefined;
  const shown = typeof cross === 'number' ? cross : cross[1];
  return {
    origin: direction === 'stronger' ? 'edit-stronger' : 'edit-weaker',
    label: `${direction === 'stronger' ? 'Stronger' : 'Weaker'} edit (cross ${formatNumber(shown)})`,
    request: { kind: 'edit', params: { ...job.request.params, cross } },
  };
}

/** The same job again with its per-token attention heat maps (image-to-image has none). */
export function attentionVariation(job: JobRecord): Variation | undefined {
  const { request } = job;
  if (request.kind === 'img2img' || request.kind === 'imagine-grid') return undefined;
  const withMaps: JobRequest = request.kind === 'imagine' ? { kind: 'imagine', params: request.params, attentionMap: true } : { kind: 'edit', params: request.params, attentionMap: true };
  return { origin: 'attention', label: 'Attention maps', request: withMaps };
}

/**
 * Vary: image-to-image of the job's image with its own prompt and settings and a new seed, at the engine's Subtle
 * (0.35) or Strong (0.7) strength.
 */
export function varyVariation(job: JobRecord, kind: 'subtle' | 'strong'): Variation | undefined {
  const params = imageParams(job);
  if (!params) return undefined;
  return {
    origin: kind === 'subtle' ? 'vary-subtle' : 'vary-strong',
    label: kind === 'subtle' ? 'Vary (Subtle)' : 'Vary (Strong)',
    request: { kind: 'img2img', params: { ...params, seed: randomSeed() }, strength: VARY_STRENGTH[kind], sourceJobId: job.id },
  };
}

/** Upscale ×2 ("hires fix"): the image at twice its size, details redrawn at strength 0.35 with the same seed. */
export function upscaleVariation(job: JobRecord, limits: BackendLimits): Variation | undefined {
  const params = imageParams(job);
  if (!params || upscaleRefusal(job, limits) !== undefined) return undefined;
  return {
    origin: 'upscale',
    label: `Upscale ×${UPSCALE_FACTOR}`,
    request: { kind: 'img2img', params: { ...params, width: params.width * UPSCALE_FACTOR, height: params.height * UPSCALE_FACTOR }, strength: UPSCALE_STRENGTH, sourceJobId: job.id },
  };
}

/** Why a job's image cannot be upscaled under these limits (undefined when it can). */
export function upscaleRefusal(job: JobRecord, limits: BackendLimits): string | undefined {
  const params = imageParams(job);
  if (!params) return `Job #${job.id} has no finished image to upscale yet.`;
  const [w, h] = [params.width * UPSCALE_FACTOR, params.height * UPSCALE_FACTOR];
  if (w <= limits.maxSize && h <= limits.maxSize) return undefined;
  return `Job #${job.id} is ${params.width}×${params.height}: upscaled ×${UPSCALE_FACTOR} it would be ${w}×${h}, above this bot's limit of ${limits.maxSize} pixels per side.`;
}

/**
 * The prompt and settings of the image a job shows: a generation's or a Vary/Upscale's own; an edit's target
 * prompt (once it is known: the edit is done) with its source's settings and its own guidance.
 */
function imageParams(job: JobRecord): ImagineParams | undefined {
  const { request } = job;
  if (request.kind === 'imagine-grid') return undefined; // the grid itself: each candidate has its own buttons
  if (request.kind !== 'edit') return request.params;
  if (job.outcome?.kind !== 'edit') return undefined;
  const { source, guidance } = request.params;
  return { ...source, prompt: job.outcome.targetPrompt, guidance: guidance ?? source.guidance };
}

function withGuidance(request: JobRequest, guidance: number): JobRequest {
  if (request.kind === 'edit') return { kind: 'edit', params: { ...request.params, guidance } };
  if (request.kind === 'imagine') return { kind: 'imagine', params: { ...request.params, guidance } };
  return { ...request, params: { ...request.params, guidance } };
}

const roundHalf = (v: number): number => Math.round(v * 2) / 2;

/** 7.5 → "7.5", -4 → "−4" (a real minus sign reads better on a button). */
export const formatNumber = (v: number): string => `${v < 0 ? '−' : ''}${Math.abs(v)}`;
