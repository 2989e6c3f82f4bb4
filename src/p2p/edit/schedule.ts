/**
 * When and where the edit acts: the cross-attention alpha table (per UNet call and token), the self-attention
 * call window, and which self-attention layers are replaced.
 *
 * T is the number of inference steps. The cross table has T + 1 rows, as in the reference, and UNet call c reads
 * row c: PNDM makes T + 1 calls, so its last call reads row T. A sampler making more calls keeps reading the last
 * row (the reference would index past the table).
 */
import { UserError, type ErrorCode } from '../../engine/errors.js';
import type { StepWindow } from '../jobs.js';

export type { StepWindow };

/** Defaults of the paper's examples and of this project's /edit. */
export const DEFAULT_CROSS_WINDOW: StepWindow = 0.8;
export const DEFAULT_SELF_WINDOW: StepWindow = 0.4;

/** The key of a per-word cross schedule that applies to every other token (the reference's name). */
export const DEFAULT_WORD_KEY = 'default_';

/** A cross schedule: one window for all tokens, or per word with `default_` for the rest (full window if absent). */
export type CrossSchedule = StepWindow | Readonly<Record<string, StepWindow>>;

/** A window as [start, end] fractions of the run; a number f means [0, f]. Checked: 0 ≤ start ≤ end ≤ 1. */
export function windowFractions(window: StepWindow, what: string, code: ErrorCode = 'bad_input'): [number, number] {
  const [start, end] = typeof window === 'number' ? [0, window] : window;
  if (!Number.isFinite(start) || !Number.isFinite(end) || start < 0 || end > 1 || start > end) {
    const shown = typeof window === 'number' ? String(window) : `${start}-${end}`;
    throw new UserError(code, `The ${what} window ${shown} is not valid: use a fraction from 0 to 1, or start-end with 0 ≤ start ≤ end ≤ 1.`);
  }
  return [start, end];
}

function checkSteps(steps: number): void {
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`steps must be a positive integer, got ${steps}`);
}

/** Cross rows [start, end) of the alpha table: [int(s0·(T+1)), int(s1·(T+1))). */
export function crossRowRange(window: StepWindow, steps: number): [number, number] {
  checkSteps(steps);
  const [start, end] = windowFractions(window, 'cross-attention');
  return [Math.floor(start * (steps + 1)), Math.floor(end * (steps + 1))];
}

/** Self-attention calls [start, end): [int(T·s0), int(T·s1)). The multiplier is T, not T + 1, as in the reference. */
export function selfCallRange(window: StepWindow, steps: number): [number, number] {
  checkSteps(steps);
  const [start, end] = windowFractions(window, 'self-attention');
  return [Math.floor(start * steps), Math.floor(end * steps)];
}

/** Token positions that follow their own window instead of the default one. */
export interface TokenWindow {
  tokens: readonly number[];
  window: StepWindow;
}

/**
 * The alpha table of one edit prompt, row-major [(T + 1), K]: 1 where the token's attention is replaced at that
 * call, 0 where the edit prompt keeps its own. Token windows are applied after the default, in order.
 */
export function crossAlphaTable(steps: number, size: number, defaultWindow: StepWindow, tokenWindows: readonly TokenWindow[] = []): Float32Array {
  const rows = steps + 1;
  const table = new Float32Array(rows * size);
  const paint = (window: StepWindow, columns: Iterable<number>): void => {
    const [start, end] = crossRowRange(window, steps);
    for (const col of columns) {
      for (let row = 0; row < rows; row++) table[row * size + col] = row >= start && row < end ? 1 : 0;
    }
  };
  paint(defaultWindow, Array.from({ length: size }, (_, k) => k));
  for (const { tokens, window } of tokenWindows) paint(window, tokens);
  return table;
}

/** The alpha row [K] UNet call `call` uses (a view), clamped to the last row. */
export function alphaRow(table: Float32Array, size: number, call: number): Float32Array {
  const row = Math.min(Math.max(call, 0), table.length / size - 1);
  return table.subarray(row * size, (row + 1) * size);
}

/**
 * Splits a cross schedule into its default window and its per-word windows, without touching the caller's
 * object (the reference adds `default_` to the caller's dict). A dict without `default_` replaces every other
 * token over the whole run, as in the reference.
 */
export function splitCrossSchedule(schedule: CrossSchedule): { defaultWindow: StepWindow; words: [string, StepWindow][] } {
  if (typeof schedule === 'number' || Array.isArray(schedule)) return { defaultWindow: schedule as StepWindow, words: [] };
  const entries = Object.entries(schedule as Readonly<Record<string, StepWindow>>);
  const defaultWindow = entries.find(([word]) => word === DEFAULT_WORD_KEY)?.[1] ?? [0, 1];
  return { defaultWindow, words: entries.filter(([word]) => word !== DEFAULT_WORD_KEY) };
}

/**
 * Which self-attention layers are replaced. `maxQuery` is the reference's absolute rule (query length ≤ 16² in
 * the stable notebook, 32² in the null-text one), which picks different layers at other image sizes. `minLevel`
 * is relative to the latent: level ℓ is the latent downsampled ℓ times (0 = latent size), so `minLevel: 2`
 * (latent/4 and smaller) is the stable notebook's 16×16-and-below at 512², at any size.
 *
 * The default is the reference's absolute rule (query ≤ 16²), so that `reprompt edit` reproduces the reference
 * implementation's edits at every size; at 512² both rules pick the same six layers. Edit jobs set `maxQuery`
 * through their self-attention resolution (`--self-res`); the relative rule is for callers of buildEditPlan.
 */
export type SelfThreshold = { maxQuery: number } | { minLevel: number };

export const DEFAULT_SELF_THRESHOLD: SelfThreshold = { maxQuery: 16 * 16 };

/** The feature-map size of a UNet level: stride-2 convolutions with padding 1 round up. */
export function levelSize(latentHeight: number, latentWidth: number, level: number): { height: number; width: number; query: number } {
  let height = latentHeight;
  let width = latentWidth;
  for (let l = 0; l < level; l++) {
    height = Math.ceil(height / 2);
    width = Math.ceil(width / 2);
  }
  return { height, width, query: height * width };
}

function selfLayerReplaced(level: number, query: number, threshold: SelfThreshold): boolean {
  return 'maxQuery' in threshold ? query <= threshold.maxQuery : level >= threshold.minLevel;
}

/** An attention layer of the UNet as the controls see it: self or cross, and its level (0 = latent size). */
export interface AttentionLayerInfo {
  kind: 'self' | 'cross';
  level: number;
}

/** Per layer: whether it is a self layer that the threshold lets the edit replace, at this latent size. */
export function replacedSelfLayers(layers: readonly AttentionLayerInfo[], threshold: SelfThreshold, latentHeight: number, latentWidth: number): boolean[] {
  return layers.map((layer) => layer.kind === 'self' && selfLayerReplaced(layer.level, levelSize(latentHeight, latentWidth, layer.level).query, threshold));
}
