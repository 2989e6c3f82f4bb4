/**
 * The messages users see for a job: queued (with its position), running (step k/n · ETA), the result (image,
 * parameters, buttons), a failure or a cancellation. The same text for Discord and the console driver.
 */
import type { ImagineGridResult, ImagineParams, ImagineResult, Img2ImgResult, StepProgress } from '../engine/jobs.js';
import type { StepPreview } from '../engine/preview.js';
import type { SamplerName } from '../engine/schedulers/scheduler.js';
import type { EditParams, EditResult, StepWindow } from '../p2p/jobs.js';
import type { BackendLimits } from './backend.js';
import { actionSpec, resultRows, statusRows } from './actions.js';
import { DEFAULT_CROSS_WINDOW, DEFAULT_SELF_WINDOW } from '../p2p/edit/schedule.js';
import { fitUpload } from './fit-upload.js';
import { candidatesOf, gridPicture } from './grid.js';
import type { JobOrigin, JobRecord } from './job.js';
import { mention, type Attachment, type Field, type RenderedMessage } from './port/index.js';
import { formatNumber } from './variations.js';

/** What the messages need to know of the loaded model: the sampler a job without its own runs with. */
export interface RenderContext {
  defaultSampler: SamplerName;
  /** Effective limits: whether a variation applies (and so its button shows) depends on them. */
  limits: BackendLimits;
}

/**
 * Why the queue does not start jobs: an admin paused it, the bot is shutting down (jobs resume on restart), or no
 * engine worker is connected (distributed mode).
 */
export type PauseReason = 'admin' | 'shutdown' | 'no-worker';

/** The newest live preview of a running job, and the step it shows. */
export interface ShownPreview {
  step: number;
  total: number;
  image: StepPreview;
}

export type JobState =
  | { phase: 'queued'; position: number | undefined; paused?: PauseReason }
  | { phase: 'running'; progress?: StepProgress; preview?: ShownPreview };

/** The status message of a job that has not finished. */
export function statusMessage(job: JobRecord, state: JobState, view: RenderContext): RenderedMessage {
  let status: string;
  if (state.phase === 'queued') {
    status = state.position === undefined ? 'queued' : `queued — position ${state.position}`;
    if (state.paused === 'admin') status += ' (the queue is paused by an admin)';
    if (state.paused === 'shutdown') status += ' (the bot is restarting; the job will continue after)';
    if (state.paused === 'no-worker') status += ' (waiting for a worker: no engine worker is connected)';
  } else if (state.progress) {
    const { step, total, etaMs } = state.progress;
    status = `${progressBar(step / total)} step ${step}/${total} · ETA ${formatDuration(etaMs)}`;
  } else {
    status = 'starting…';
  }
  const icon = state.phase === 'queued' ? '⏳' : '🎨';
  const preview = state.phase === 'running' ? state.preview : undefined;
  return {
    content: `${icon} ${headline(job)} · ${status}`,
    fields: jobFields(job, view),
    rows: statusRows(job, view.limits),
    ...(preview ? { attachments: [previewAttachment(job, preview)] } : {}),
  };
}

/** `job-12-step-05.webp`: one name per step, so the console driver keeps every preview it is shown. */
function previewAttachment(job: JobRecord, { step, total, image }: ShownPreview): Attachment {
  const digits = String(total).length;
  return { name: `job-${job.id}-step-${String(step).padStart(digits, '0')}.${image.format === 'jpeg' ? 'jpg' : 'webp'}`, data: image.data, description: `Preview at step ${step} of ${total}` };
}

/** The finished job: its image (and attention maps when asked), parameters and buttons. */
export async function resultMessage(
  job: JobRecord,
  result: ImagineResult | EditResult | Img2ImgResult | ImagineGridResult,
  opts: { uploadLimitBytes: number; view: RenderContext },
): Promise<RenderedMessage> {
  if (result.kind === 'imagine-grid') return gridMessage(job, result, opts);
  const notes: string[] = [];
  const attachments: Attachment[] = [];
  const images = [
    { image: result.image, name: `job-${job.id}`, alt: altText(job) },
    ...('attentionMap' in result && result.attentionMap ? [{ image: result.attentionMap, name: `job-${job.id}-attention`, alt: `Per-token attention heat maps of: ${shownPrompt(result)}` }] : []),
  ];
  for (const { image, name, alt } of images) {
    const fitted = await fitUpload(name, image.png, opts.uploadLimitBytes, alt);
    if (fitted.attachment) attachments.push(fitted.attachment);
    if (fitted.note) notes.push(`ℹ️ ${name}: ${fitted.note}`);
  }
  if (result.kind !== 'edit' && result.truncated.length > 0) {
    notes.push(`⚠️ The prompt was longer than 77 tokens; dropped: "${result.truncated.join(' ')}"`);
  }
  const content = [`✅ ${headline(job)}`, ...notes].join('\n');
  return { content, fields: jobFields(job, opts.view), attachments, rows: resultRows(job, opts.view.limits) };
}

/** A finished grid: one picture of its candidates, which of its jobs each is, and a row of buttons per action. */
async function gridMessage(job: JobRecord, result: ImagineGridResult, opts: { uploadLimitBytes: number; view: RenderContext }): Promise<RenderedMessage> {
  const picture = await gridPicture(result.candidates.map((c) => c.image));
  const fitted = await fitUpload(`job-${job.id}-grid`, picture.png, opts.uploadLimitBytes, `${result.candidates.length} candidates of: ${altText(job)}`);
  const ids = candidatesOf(job);
  const which = result.candidates.map((c, k) => `${k + 1}: #${ids[k]} (seed ${c.params.seed})`).join(' · ');
  const truncated = result.candidates[0].truncated;
  const notes = [
    `Candidates ${which}`,
    ...(fitted.note ? [`ℹ️ job-${job.id}-grid: ${fitted.note}`] : []),
    ...(truncated.length > 0 ? [`⚠️ The prompt was longer than 77 tokens; dropped: "${truncated.join(' ')}"`] : []),
  ];
  return {
    content: [`✅ ${headline(job)} · grid of ${result.candidates.length}`, ...notes].join('\n'),
    fields: jobFields(job, opts.view),
    attachments: fitted.attachment ? [fitted.attachment] : [],
    rows: resultRows(job, opts.view.limits),
  };
}

/** A failed or cancelled job. Internal errors show a short apology (the details are in the log). */
export function endedMessage(job: JobRecord, view: RenderContext): RenderedMessage {
  let text: string;
  if (job.status === 'cancelled') text = `🚫 ${headline(job)} · cancelled`;
  else if (!job.error || job.error.code === 'internal') text = `⚠️ ${headline(job)} · failed: something went wrong on the bot's side (it is logged).`;
  else text = `⚠️ ${headline(job)} · failed: ${job.error.message}`;
  return { content: text, fields: jobFields(job, view) };
}

const originText = (origin: JobOrigin): string =>
  origin === 'imagine' || origin === 'photo-edit' ? '' : origin === 'edit' ? 'edit of' : origin === 'grid' ? 'candidate of grid' : (actionSpec(origin).origin ?? '');

/** `<@user> · job #12 · reroll of #3` */
export function headline(job: JobRecord): string {
  const text = originText(job.origin);
  const origin = job.parentId !== null && text ? ` · ${text} #${job.parentId}` : '';
  return `${mention(job.userId)} · job #${job.id}${origin}`;
}

/** The parameters, as embed fields. A job without its own sampler shows the one it runs with (the model's). */
function jobFields(job: JobRecord, view: RenderContext): Field[] {
  const request = job.request;
  if (request.kind !== 'edit') {
    const sampler = job.outcome && job.outcome.kind !== 'edit' ? job.outcome.sampler : (request.params.sampler ?? view.defaultSampler);
    return [
      { name: 'Prompt', value: request.params.prompt },
      ...(request.params.negativePrompt ? [{ name: 'Negative', value: request.params.negativePrompt }] : []),
      ...generationFields(request.params, request.params.guidance, sampler),
      ...(request.kind === 'img2img' ? [{ name: 'Strength', value: String(request.strength), inline: true }] : []),
      ...(request.kind === 'imagine-grid' ? [{ name: 'Count', value: `${request.count} (seeds ${request.params.seed} + 0…${request.count - 1})`, inline: true }] : []),
    ];
  }
  return editFields(request.params, job, view);
}

function editFields(p: EditParams, job: JobRecord, view: RenderContext): Field[] {
  const outcome = job.outcome?.kind === 'edit' ? job.outcome : undefined;
  const target = outcome ? `${p.source.prompt} → ${outcome.targetPrompt}` : p.source.prompt;
  const fields: Field[] = [
    { name: 'Edit', value: p.edit || '(re-weighting only)' },
    { name: outcome ? 'Source → target' : 'Source prompt', value: target },
  ];
  if (outcome) fields.push({ name: 'Mode', value: outcome.mode, inline: true });
  fields.push(
    { name: 'Cross / self', value: `${formatWindow(p.cross ?? DEFAULT_CROSS_WINDOW)} / ${formatWindow(p.self ?? DEFAULT_SELF_WINDOW)}`, inline: true },
  );
  if (p.blend?.length) fields.push({ name: 'Blend', value: p.blend.join(', '), inline: true });
  if (p.weights?.length) fields.push({ name: 'Weights', value: p.weights.map((w) => `${w.word} ×${w.weight}`).join(', '), inline: true });
  const generation = generationFields(p.source, p.guidance ?? p.source.guidance, p.source.sampler ?? view.defaultSampler);
  // A picture's source has no seed of its own (its inversion is the source): say where it came from instead.
  fields.push(...(p.photo === undefined ? generation : [{ name: 'Source', value: 'your picture', inline: true }, ...generation.filter((f) => f.name !== 'Seed')]));
  if (outcome) fields.push({ name: 'Source attention', value: outcome.reusedSource ? 'reused from the store' : 'computed', inline: true });
  return fields;
}

function generationFields(p: ImagineParams, guidance: number, sampler: SamplerName): Field[] {
  return [
    { name: 'Seed', value: p.seed, inline: true },
    { name: 'Steps', value: String(p.steps), inline: true },
    { name: 'CFG', value: formatNumber(guidance), inline: true },
    { name: 'Sampler', value: sampler, inline: true },
    { name: 'Size', value: `${p.width}×${p.height}`, inline: true },
  ];
}

/** The prompt an image (and its heat maps) shows: the generation's, or the edit's target. */
const shownPrompt = (result: ImagineResult | EditResult | Img2ImgResult): string => (result.kind === 'edit' ? result.targetPrompt : result.params.prompt);

function altText(job: JobRecord): string {
  const text = job.request.kind === 'edit' ? `${job.request.params.source.prompt} (edit: ${job.request.params.edit})` : job.request.params.prompt;
  return text.slice(0, 1000);
}

const formatWindow = (w: StepWindow): string => (typeof w === 'number' ? String(w) : `${w[0]}–${w[1]}`);

function progressBar(fraction: number, width = 10): string {
  const filled = Math.max(0, Math.min(width, Math.round(fraction * width)));
  return '▰'.repeat(filled) + '▱'.repeat(width - filled);
}

export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
}
