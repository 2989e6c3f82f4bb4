/**
 * Prompt-to-Prompt edits as the bot builds them: from a source image's record and the user's edit text, and the
 * stronger/weaker re-edits, which keep the source (prompt, seed, sampler…) identical so the engine can reuse its
 * stored source attention.
 */
import { UserError } from '../engine/errors.js';
import { composeEdits } from '../p2p/edit/compose.js';
import { parseEdit } from '../p2p/edit/language.js';
import { DEFAULT_CROSS_WINDOW } from '../p2p/edit/schedule.js';
import type { EditParams, StepWindow } from '../p2p/jobs.js';
import type { JobRecord } from './job.js';
import type { EditSettings } from './validate.js';
import { windowEnd } from './validate.js';

/** The engine's cross-attention window when none is given. */
export const DEFAULT_CROSS: StepWindow = DEFAULT_CROSS_WINDOW;
/** Smaller cross window = the target prompt takes over earlier = a stronger edit. */
const STRONGER_FACTOR = 0.75;
const WEAKER_FACTOR = 1.25;
const MIN_CROSS = 0.05;

/**
 * The edit of a finished job. Editing an edited image edits its original source with the two edits composed
 * (p2p/edit/compose.ts), so the result stays a Prompt-to-Prompt edit of the image the user sees; the earlier
 * edit's weights and blend words are folded into the composed text.
 */
export function editParamsFor(target: JobRecord, editText: string, settings: EditSettings): EditParams {
  const base = target.request;
  let params: EditParams;
  if (base.kind === 'img2img') {
    throw new UserError(
      'bad_input',
      `Job #${target.id} was drawn from another image (Vary / Upscale), which Prompt-to-Prompt cannot re-derive: edit job #${target.parentId ?? target.id} instead.`,
    );
  }
  if (base.kind === 'imagine-grid') {
    const ids = target.outcome?.kind === 'imagine-grid' ? target.outcome.candidates : [];
    const which = ids.length > 0 ? ` (image: #${ids[0]} to #${ids[ids.length - 1]})` : ' once it is drawn';
    throw new UserError('bad_input', `Job #${target.id} is a grid: pick one of its pictures with the Edit 1–${base.count} buttons under it, or name it${which}.`);
  }
  if (base.kind === 'imagine') params = { source: base.params, edit: editText };
  else {
    const { weights, blend, ...rest } = base.params;
    const edit = composeEdits({ source: rest.source.prompt, edit: rest.edit, weights, blend }, editText);
    params = { ...rest, edit };
  }
  if (settings.cross !== undefined) params.cross = settings.cross;
  if (settings.self !== undefined) params.self = settings.self;
  if (settings.blend !== undefined) params.blend = settings.blend;
  if (settings.guidance !== undefined) params.guidance = settings.guidance;
  // The edit language needs no model: a typo or a word that is not in the prompt is answered now, not queued.
  parseEdit({ source: params.source.prompt, edit: params.edit, weights: params.weights, blend: params.blend });
  return params;
}

/** The cross window of an edit made stronger or weaker, or undefined when it is already at the bound. */
export function scaledCross(params: EditParams, direction: 'stronger' | 'weaker'): StepWindow | undefined {
  const window = params.cross ?? DEFAULT_CROSS;
  const start = typeof window === 'number' ? 0 : window[0];
  const end = windowEnd(window);
  const factor = direction === 'stronger' ? STRONGER_FACTOR : WEAKER_FACTOR;
  const scaled = clamp(Math.round(end * factor * 100) / 100, Math.max(MIN_CROSS, start + 0.01), 1);
  if (scaled === end) return undefined;
  return typeof window === 'number' ? scaled : [start, scaled];
}

const clamp = (v: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, v));
