/** The bot's record of one generation or edit: what was asked, by whom, where it is shown, and how it went. */
import type { ErrorValue } from '../engine/errors.js';
import type { ImagineGridJob, ImagineJob, ImagineParams, Timings } from '../engine/jobs.js';
import type { SamplerName } from '../engine/schedulers/scheduler.js';
import type { EditJob } from '../p2p/jobs.js';
import type { JobAction } from './actions.js';

/**
 * Vary / Upscale: image-to-image of the parent job's image (the engine's `img2img` job without the image bytes,
 * which the bot reads from its store when the job runs: JobStore.image). `params` are the new image's (its size is
 * the parent's, or twice it for an upscale; a new seed).
 */
export interface Img2ImgRequest {
  kind: 'img2img';
  params: ImagineParams;
  strength: number;
  /** The job whose image is the input (a guidance variation of a Vary keeps the Vary's input). */
  sourceJobId: number;
}

/**
 * A grid (`/imagine count:2–4`) is one job: its candidates are drawn as one batch, then stored as finished
 * `imagine` jobs of their own (origin 'grid', parent the grid), which every button, /edit and re-edit works on.
 */
export type JobRequest = ImagineJob | EditJob | Img2ImgRequest | ImagineGridJob;

export type JobStatus = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';

/** What created the job: a command (`photo-edit`: an edit of a user's picture), or the button pressed under its parent (./actions.ts). */
export type JobOrigin = 'imagine' | 'edit' | 'photo-edit' | 'grid' | JobAction;

/** What the engine reported, minus the images (those live in the Discord message). */
export type JobOutcome =
  | { kind: 'imagine'; sampler: SamplerName; truncated: string[]; timings: Timings }
  | { kind: 'img2img'; sampler: SamplerName; strength: number; timings: Timings }
  /** `candidates`: the job ids of the candidates, in seed order (seed, seed+1, …). */
  | { kind: 'imagine-grid'; sampler: SamplerName; candidates: number[]; timings: Timings }
  | { kind: 'edit'; targetPrompt: string; mode: string; reusedSource: boolean; timings: Timings };

export interface JobRecord {
  id: number;
  request: JobRequest;
  origin: JobOrigin;
  /** The job this one was derived from (the source of an edit, the image a button was pressed under). */
  parentId: number | null;
  userId: string;
  userName: string;
  guildId: string | null;
  channelId: string;
  /** The channel message that shows the job's status and then its result. */
  messageId: string | null;
  status: JobStatus;
  /** Milliseconds since the epoch. */
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  error: ErrorValue | null;
  outcome: JobOutcome | null;
  /** The result message was deleted by its author or an admin. */
  deleted: boolean;
}

export const isFinished = (status: JobStatus): boolean => status === 'done' || status === 'failed' || status === 'cancelled';
