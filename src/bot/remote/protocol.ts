/**
 * What the bot and the engine workers (`reprompt worker`) agree on in Redis. BullMQ carries the jobs (one queue per
 * model, so a worker only ever takes jobs for the model it loaded); everything else is a plain key or channel:
 *
 * - `<prefix>:worker:<model>:<name>`   a worker's announcement (JSON WorkerAnnouncement), refreshed while it lives,
 *                                      expiring a few seconds after it dies: the bot counts these as its engines.
 * - `<prefix>:result:<jobId>`          the result of a finished job, v8-serialised (PNG bytes and latents stay
 *                                      binary), with a TTL; the job's return value only names the key. The bot reads
 *                                      and deletes it when it delivers.
 * - `<prefix>:trajectory:<jobId>`      an edit's source trajectory (v8-serialised float32, up to a few MB), with a TTL;
 *                                      the job data names the key instead of carrying the array (BullMQ stores job
 *                                      data as JSON). The bot deletes it when the job is settled.
 * - `<prefix>:image:<jobId>`           an invert job's picture (the file's bytes), the same way.
 * - `<prefix>:cancel` (channel)        a job id to stop; `<prefix>:cancelled:<jobId>` marks it for a worker that
 *                                      has not started it yet.
 */
import { deserialize, serialize } from 'node:v8';
import type { ErrorValue } from '../../engine/errors.js';
import type { ImagineGridJob, ImagineGridResult, ImagineJob, ImagineResult, Img2ImgJob, Img2ImgResult, InvertJob, InvertResult } from '../../engine/jobs.js';
import type { SamplerName } from '../../engine/schedulers/scheduler.js';
import type { Trajectory } from '../../engine/trajectory.js';
import type { EditJob, EditResult } from '../../p2p/jobs.js';

/** Key prefix of everything (BullMQ's own keys too). */
export const REDIS_PREFIX = 'reprompt';
export const CANCEL_CHANNEL = `${REDIS_PREFIX}:cancel`;

/** Results wait this long for the bot (a bot restarted within a day still delivers them). */
export const RESULT_TTL_S = 24 * 60 * 60;
/** A worker refreshes its announcement this often; it expires after ANNOUNCE_TTL_MS without one. */
export const ANNOUNCE_EVERY_MS = 1_000;
export const ANNOUNCE_TTL_MS = 4_000;

export type RemoteJob = ImagineJob | EditJob | Img2ImgJob | ImagineGridJob | InvertJob;
export type RemoteResult = ImagineResult | EditResult | Img2ImgResult | ImagineGridResult | InvertResult;
/**
 * A job as BullMQ's JSON job data holds it: without its binary part (an edit's trajectory; the picture of an
 * invert or img2img job), which travels under its own key.
 */
export type RemoteJobBody = ImagineJob | EditJob | ImagineGridJob | Omit<InvertJob, 'image'> | Omit<Img2ImgJob, 'image'>;

/** BullMQ job data: the job and the model it needs. */
export interface RemoteJobData {
  /** The job without its binary source trajectory, which travels under `trajectoryKey` (an invert's picture: `imageKey`). */
  job: RemoteJobBody;
  trajectoryKey?: string;
  imageKey?: string;
  model: string;
  /** When the bot handed it to BullMQ (ms since the epoch), for the latency figures. */
  enqueuedAt: number;
}

/** BullMQ return value: a job's outcome travels as a completed job either way, so the error keeps its code. */
export type RemoteOutcome =
  | { ok: true; resultKey: string; worker: string; startedAt: number; finishedAt: number }
  | { ok: false; error: ErrorValue; worker: string };

export interface WorkerAnnouncement {
  name: string;
  model: string;
  provider: string;
  kinds: string[];
  vaeScaleFactor: number;
  /** The sampler of the model's scheduler_config.json (what a job that names none runs with). */
  defaultSampler: SamplerName;
  /** Whether it runs a job now. */
  busy: boolean;
}

/** The BullMQ queue of a model's jobs (BullMQ names may not contain ':'). */
export function queueNameFor(model: string): string {
  return `engine-${encodeURIComponent(model)}`;
}

/** BullMQ job id of the bot's job `jobKey` (BullMQ refuses plain integers as custom ids). */
export function remoteJobId(jobKey: string): string {
  return `job-${jobKey}`;
}

export const announcementKey = (model: string, name: string): string => `${REDIS_PREFIX}:worker:${encodeURIComponent(model)}:${name}`;
export const announcementPattern = (model: string): string => `${REDIS_PREFIX}:worker:${encodeURIComponent(model)}:*`;
export const resultKey = (jobId: string): string => `${REDIS_PREFIX}:result:${jobId}`;
export const trajectoryKey = (jobId: string): string => `${REDIS_PREFIX}:trajectory:${jobId}`;
export const imageKey = (jobId: string): string => `${REDIS_PREFIX}:image:${jobId}`;
export const cancelledKey = (jobId: string): string => `${REDIS_PREFIX}:cancelled:${jobId}`;

/** Structured-clone bytes (what postMessage would carry): typed arrays stay binary, no base64. */
export function encodeResult(result: RemoteResult): Buffer {
  return serialize(result);
}

export function decodeResult(bytes: Buffer): RemoteResult {
  return deserialize(bytes) as RemoteResult;
}

export function encodeTrajectory(trajectory: Trajectory): Buffer {
  return serialize(trajectory);
}

export function decodeTrajectory(bytes: Buffer): Trajectory {
  return deserialize(bytes) as Trajectory;
}
