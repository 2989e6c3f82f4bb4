/**
 * The jobs the buttons under a result make (./actions.ts says which button makes which). Labels and the jobs
 * behind them come from the same functions, so a button pressed after a restart does exactly what its label said.
 */
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
  return request.kind === 'imagine' ? request.params.guidance : (request.params.guidance ?? request.params.source.guidance);
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

/** A new random seed, everything else the same (generations only). */
export function rerollVariation(job: JobRecord): Variation | undefined {
  if (job.request.kind !== 'imagine') return undefined;
  return {
    origin: 'reroll',
    label: 'Reroll',
    request: { kind: 'imagine', params: { ...job.request.params, seed: randomSeed() } },
  };
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

/** The same job again with its per-token attention heat maps. */
export function attentionVariation(job: JobRecord): Variation {
  const request: JobRequest = job.request.kind === 'imagine' ? { kind: 'imagine', params: job.request.params, attentionMap: true } : { kind: 'edit', params: job.request.params, attentionMap: true };
  return { origin: 'attention', label: 'Attention maps', request };
}

function withGuidance(request: JobRequest, guidance: number): JobRequest {
  return request.kind === 'imagine'
    ? { kind: 'imagine', params: { ...request.params, guidance } }
    : { kind: 'edit', params: { ...request.params, guidance } };
}

const roundHalf = (v: number): number => Math.round(v * 2) / 2;

/** 7.5 → "7.5", -4 → "−4" (a real minus sign reads better on a button). */
export const formatNumber = (v: number): string => `${v < 0 ? '−' : ''}${Math.abs(v)}`;
