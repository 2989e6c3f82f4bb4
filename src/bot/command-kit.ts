/** Helpers shared by the command modules in commands/: accepting a job, and finding the image a user means. */
import { UserError } from '../engine/errors.js';
import { specOf } from './actions.js';
import type { BotContext } from './context.js';
import type { Action } from './custom-id.js';
import type { JobRecord } from './job.js';
import type { IncomingAttachment, Interaction } from './port/index.js';
import { intakePhoto } from './photos.js';
import { checkPhotoEdit, photoEditParams, type PhotoEditRequest } from '../p2p/photo-edit.js';
import { parseEdit } from '../p2p/edit/language.js';
import { editParamsFor } from './edits.js';
import type { EditSettings } from './validate.js';
import type { Variation } from './variations.js';

/**
 * Queues a job for the interaction's user and tells them (privately) where it stands, with `what` (e.g. which
 * image an edit edits) after the job number. Call after defer().
 */
export async function acceptJob(ix: Interaction, ctx: BotContext, job: Omit<Variation, 'label'> & { parentId: number | null }, what?: string): Promise<JobRecord> {
  const { job: accepted, position } = await ctx.jobs.submit({
    request: job.request,
    origin: job.origin,
    parentId: job.parentId,
    user: ix.user,
    guildId: ix.guildId,
    channelId: ix.channelId,
  });
  // A plain-message reply has no private channel back; the status message in the channel is its answer.
  if (ix.kind !== 'reply') {
    const where = position === undefined ? 'starting now' : `position ${position} in the queue`;
    await ix.editReply({ content: `Queued as job #${accepted.id} (${where})${what ? `, ${what}` : ''}. The result will appear in this channel.`, ephemeral: true });
  }
  return accepted;
}

/** A job by id, as seen from the interaction's server (jobs of other servers do not exist there). */
export function findJob(ctx: BotContext, ix: Interaction, jobId: number): JobRecord {
  const job = ctx.store.get(jobId);
  if (!job || job.guildId !== ix.guildId) throw new UserError('not_found', `There is no job #${jobId} here.`);
  return job;
}

/**
 * The job a button was pressed under, as seen from the interaction's server, after checking who may press that
 * button (its descriptor in ./actions.ts): some are for the job's author and admins only.
 */
export function pressedJob(ctx: BotContext, ix: Interaction, target: { action: Action; jobId: number }): JobRecord {
  const job = findJob(ctx, ix, target.jobId);
  const spec = specOf(target.action);
  if (spec?.who === 'author' && job.userId !== ix.user.id && !ix.isAdmin) {
    throw new UserError('forbidden', `Only the author of job #${job.id} or an admin can ${(spec.label ?? spec.id).toLowerCase()} it.`);
  }
  return job;
}

/**
 * A job whose image can be varied or edited: done, or still on its way (Prompt-to-Prompt re-derives the source
 * from its parameters, so an edit can be queued behind its source); not failed, cancelled or deleted.
 */
export function requireImage(job: JobRecord): JobRecord {
  if (job.status === 'failed' || job.status === 'cancelled') {
    throw new UserError('bad_input', `Job #${job.id} has no image: it ${job.status === 'failed' ? 'failed' : 'was cancelled'}.`);
  }
  if (job.deleted) throw new UserError('not_found', `The image of job #${job.id} was deleted.`);
  return job;
}

/**
 * The image a user refers to: a message link, a message id, or a job id (`12` or `#12`); without a reference,
 * their latest image in this channel that they can see or asked for themselves (JobStore.latestImage: a button's
 * variation still being drawn is not it). The reply names the image picked (acceptEdit).
 */
export function resolveImage(ctx: BotContext, ix: Interaction, reference: string | undefined): JobRecord {
  const text = reference?.trim();
  if (!text) {
    const latest = ctx.store.latestImage(ix.user.id, ix.channelId);
    if (!latest) throw new UserError('not_found', 'You have no image in this channel yet: make one with /imagine, or give image: a message link.');
    return latest;
  }
  const link = /channels\/[^/\s]+\/[^/\s]+\/(\d+)/.exec(text);
  const byMessage = ctx.store.byMessage(link ? link[1] : text);
  if (byMessage && byMessage.guildId === ix.guildId) return requireImage(byMessage);
  const jobId = /^#?(\d{1,15})$/.exec(text);
  if (jobId && !link) return requireImage(findJob(ctx, ix, Number(jobId[1])));
  throw new UserError('not_found', `"${text}" is not one of my images: give a link to one of my messages (Copy Message Link) or a job number like #12.`);
}

/** Longest prompt quoted in a reply that names an image. */
const QUOTED_PROMPT = 80;

/** The prompt of a job's image: an edit's target prompt (as drawn, or as its edit will draw it). */
function imagePrompt(job: JobRecord): string {
  if (job.request.kind !== 'edit') return job.request.params.prompt;
  if (job.outcome?.kind === 'edit') return job.outcome.targetPrompt;
  const p = job.request.params;
  return parseEdit({ source: p.source.prompt, edit: p.edit, weights: p.weights, blend: p.blend }).target;
}

/** "editing job #12 (a red fox…)": which image an edit edits, for the reply. */
function editingWhat(job: JobRecord): string {
  const prompt = imagePrompt(job).trim();
  const shown = prompt.length > QUOTED_PROMPT ? `${prompt.slice(0, QUOTED_PROMPT - 1).trimEnd()}…` : prompt;
  return `editing job #${job.id} (${shown})`;
}

/** Queues an edit of `source` (see requireImage) with the user's edit text and settings. Call after defer(). */
export async function acceptEdit(ix: Interaction, ctx: BotContext, source: JobRecord, text: string, settings: EditSettings): Promise<JobRecord> {
  const params = editParamsFor(requireImage(source), text, settings);
  return acceptJob(ix, ctx, { request: { kind: 'edit', params }, origin: 'edit', parentId: source.id }, editingWhat(source));
}

/**
 * Queues an edit of a user's picture: the description and the edit are checked first (a swapped word missing from
 * the description is answered before any download), then the picture is downloaded, checked and kept
 * (./photos.ts). The job inverts it and edits it. Call after defer().
 */
export async function acceptPhotoEdit(
  ix: Interaction,
  ctx: BotContext,
  attachment: IncomingAttachment,
  description: string | undefined,
  text: string,
  settings: EditSettings,
): Promise<JobRecord> {
  const request: PhotoEditRequest = {
    description: description?.trim() ?? '',
    negativePrompt: '',
    steps: ctx.defaults.steps,
    guidance: settings.guidance ?? ctx.defaults.guidance,
    edit: text,
    ...(settings.cross !== undefined ? { cross: settings.cross } : {}),
    ...(settings.self !== undefined ? { self: settings.self } : {}),
    ...(settings.blend !== undefined ? { blend: settings.blend } : {}),
  };
  if (request.description === '') {
    throw new UserError('bad_input', 'Describe your picture in “description” (what it shows): the edit changes words of it, e.g. “a house on a hill” with house→castle.');
  }
  checkPhotoEdit(request);
  const photo = await intakePhoto(attachment, { maxBytes: ctx.photoMaxBytes, limits: ctx.limits, store: ctx.store });
  const params = photoEditParams(request, photo);
  return acceptJob(ix, ctx, { request: { kind: 'edit', params }, origin: 'photo-edit', parentId: null }, `editing your picture (${photo.width}×${photo.height})`);
}
