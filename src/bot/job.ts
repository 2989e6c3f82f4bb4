/** The bot's record of one generation or edit: what was asked, by whom, where it is shown, and how it went. */
import type { ErrorValue } from '../engine/errors.js';
import type { ImagineJob, Timings } from '../engine/jobs.js';
import type { SamplerName } from '../engine/schedulers/scheduler.js';
import type { EditJob } from '../p2p/jobs.js';
import type { JobAction } from './actions.js';

export type JobRequest = ImagineJob | EditJob;

export type JobStatus = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';

/** What created the job: a command (`photo-edit`: an edit of a user's picture), or the button pressed under its parent (./actions.ts). */
export type JobOrigin = 'imagine' | 'edit' | 'photo-edit' | JobAction;

/** What the engine reported, minus the images (those live in the Discord message). */
export type JobOutcome =
  | { kind: 'imagine'; sampler: SamplerName; truncated: string[]; timings: Timings }
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
