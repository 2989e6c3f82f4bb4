/**
 * Prompt-to-Prompt edits as the bot builds them: from a source image's record and the user's edit text, and the
 * stronger/weaker re-edits, which keep the source (prompt, seed, sampler…) identical so the engine can reuse its
 * stored source attention.
 */
import { UserError } from '../engine/errors.js';
import { parseEdit } from '../p2p/edit/language.js';
import { phraseWordIndices } from '../p2p/edit/words.js';
import type { EditParams, StepWindow } from '../p2p/jobs.js';
import type { JobRecord } from './job.js';
import type { EditSettings } from './validate.js';
import { windowEnd } from './validate.js';

/** The engine's cross-attention window when none is given (p2p/jobs.ts: "default 0.8"). */
export const DEFAULT_CROSS = 0.8;
/** Smaller cross window = the target prompt takes over earlier = a stronger edit. */
const STRONGER_FACTOR = 0.75;
const WEAKER_FACTOR = 1.25;
const MIN_CROSS = 0.05;

/**
 * The edit of a finished job. Editing an edited image edits its original source with the two edits composed,
 * so the result stays a Prompt-to-Prompt edit of the image the user sees.
 */
export function editParamsFor(target: JobRecord, editText: string, settings: EditSettings): EditParams {
  const base = target.request;
  const params: EditParams =
    base.kind === 'imagine'
      ? { source: base.params, edit: editText }
      : { ...base.params, edit: chainEdit(base.params.edit, editText, base.params.source.prompt) };
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

/** The swap arrow of the edit language (p2p/edit/language.ts). */
export const ARROW = /→|->/;

/**
 * Composes two edits of the same source. A full prompt as the next edit replaces the previous one; `a→b` pairs
 * are applied to the previous target: `cat→dog` then `dog→wolf` gives `cat→wolf`, then `mat→rug` adds a pair;
 * after a full-prompt edit the pairs replace words of that prompt. `source` is the original prompt that
 * `previous` edits: the user sees the edited image, so a swap must name a word of its prompt, not of the source.
 */
export function chainEdit(previous: string, next: string, source: string): string {
  if (!ARROW.test(next)) return next;
  const nextPairs = splitEdit(next);
  if (!ARROW.test(previous)) {
    return nextPairs.reduce((prompt, segment) => {
      if (!segment.to) return `${prompt}, ${segment.text}`;
      const word = new RegExp(`(^|[^\\p{L}\\p{N}])${escapeRegExp(segment.from)}(?=$|[^\\p{L}\\p{N}])`, 'iu');
      if (!word.test(prompt)) throw notInImage(segment.from, previous);
      return prompt.replace(word, (_, lead: string) => `${lead}${segment.to}`);
    }, previous);
  }
  const pairs = splitEdit(previous);
  for (const segment of nextPairs) {
    const chained = segment.to ? pairs.find((p) => p.to?.toLowerCase() === segment.from.toLowerCase()) : undefined;
    if (chained) {
      chained.to = segment.to;
      continue;
    }
    // Without this, a word the previous edit swapped away ("fox" after fox→cat) would reach the edit language as a
    // second swap of the same source word, whose message names the original prompt the user no longer sees.
    if (segment.to) {
      const imagePrompt = parseEdit({ source, edit: previous }).target;
      if (phraseWordIndices(imagePrompt, segment.from).length === 0) throw notInImage(segment.from, imagePrompt);
    }
    pairs.push(segment);
  }
  return pairs.map((p) => (p.to === undefined ? p.text : `${p.from}→${p.to}`)).join(', ');
}

const notInImage = (word: string, imagePrompt: string): UserError =>
  new UserError('bad_prompt', `"${word}" is not in this image's prompt "${imagePrompt}": edit a word that is in it, or give a whole new prompt.`);

interface Segment {
  text: string;
  from: string;
  /** undefined for a segment without an arrow (e.g. a weight like `(smiling:2)`). */
  to?: string;
}

function splitEdit(edit: string): Segment[] {
  return edit
    .split(',')
    .map((text) => text.trim())
    .filter(Boolean)
    .map((text) => {
      const [from, ...rest] = text.split(ARROW);
      return rest.length === 0 ? { text, from: text } : { text, from: from.trim(), to: rest.join('').trim() };
    });
}

const clamp = (v: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, v));
const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
