/**
 * The grid of `/imagine count:2–4`: one job whose candidates (seeds seed, seed+1, …: the engine's `imagine-grid`)
 * become finished `imagine` jobs of their own, and the one picture that shows them (2 side by side, 3 or 4 in two
 * rows of two), numbered left to right, top to bottom as the U*n* / V*n* / Edit *n* buttons under it.
 */
import sharp from 'sharp';
import { UserError } from '../engine/errors.js';
import { GRID_COUNT_RANGE, gridSeeds } from '../engine/grid.js';
import type { ImageOutput, ImagineGridJob, ImagineJob, ImagineParams } from '../engine/jobs.js';
import type { JobRecord } from './job.js';
import type { OptionValue } from './port/index.js';

/** The `count` option (1–4; the operator's DEFAULT_COUNT when not given). */
export function countFrom(value: OptionValue | undefined, fallback: number): number {
  if (value === undefined || value === '') return fallback;
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isInteger(n) || n < GRID_COUNT_RANGE.min || n > GRID_COUNT_RANGE.max) {
    throw new UserError('bad_input', `count ${String(value)} is not allowed: use a whole number from ${GRID_COUNT_RANGE.min} to ${GRID_COUNT_RANGE.max}.`);
  }
  return n;
}

/** One candidate is a plain /imagine; more are a grid. */
export const imagineRequest = (params: ImagineParams, count: number): ImagineJob | ImagineGridJob =>
  count === 1 ? { kind: 'imagine', params } : { kind: 'imagine-grid', params, count };

/** How many of a user's queue share (USER_MAX_PENDING) a request takes: a grid of N counts as N images. */
export const shareOf = (request: { kind: string; count?: number }): number => (request.kind === 'imagine-grid' ? (request.count ?? 1) : 1);

/** Columns and rows of the picture of `count` candidates. */
export function gridLayout(count: number): { columns: number; rows: number } {
  const columns = Math.min(count, 2);
  return { columns, rows: Math.ceil(count / columns) };
}

/** The candidates side by side in one PNG (a cell left over by 3 candidates stays black). */
export async function gridPicture(candidates: readonly ImageOutput[]): Promise<ImageOutput> {
  const { width, height } = candidates[0];
  const { columns, rows } = gridLayout(candidates.length);
  const png = await sharp({ create: { width: width * columns, height: height * rows, channels: 3, background: { r: 0, g: 0, b: 0 } } })
    .composite(candidates.map((c, k) => ({ input: Buffer.from(c.png), left: (k % columns) * width, top: Math.floor(k / columns) * height })))
    .png()
    .toBuffer();
  return { png: new Uint8Array(png), width: width * columns, height: height * rows };
}

/** Candidate k (0-based) of a grid as the single /imagine that draws the same picture: seed + k. */
export function candidateRequest(grid: ImagineGridJob, k: number): ImagineJob {
  return { kind: 'imagine', params: { ...grid.params, seed: gridSeeds(grid.params.seed, grid.count)[k] } };
}

/** The job ids of a finished grid's candidates, in seed order (empty for any other job). */
export const candidatesOf = (job: JobRecord): readonly number[] => (job.outcome?.kind === 'imagine-grid' ? job.outcome.candidates : []);
