/**
 * Test doubles for the bot (never used at runtime): an in-process image backend that draws real small PNGs with
 * sharp, a recording channel sink, and interactions whose responders enforce Discord's answer rules.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { UserError } from '../src/engine/errors.js';
import { gridSeeds } from '../src/engine/grid.js';
import type { ImageOutput, ImagineGridJob, ImagineGridResult, ImagineJob, ImagineResult, Img2ImgJob, Img2ImgResult, InvertJob, InvertResult, Timings } from '../src/engine/jobs.js';
import { checkPhoto } from '../src/engine/photo.js';
import { previewSteps, type StepPreview } from '../src/engine/preview.js';
import { SAMPLER_NAMES } from '../src/engine/schedulers/scheduler.js';
import type { EditJob, EditResult } from '../src/p2p/jobs.js';
import { createBotApp, type AppSettings, type BotApp } from '../src/bot/app.js';
import type { BackendLimits, ImageBackend, RunOptions } from '../src/bot/backend.js';
import type { JobRecord, JobRequest } from '../src/bot/job.js';
import { silentLogger } from '../src/bot/log.js';
import {
  MessageGone,
  type ButtonInteraction,
  type EditBudget,
  type Interaction,
  type MessageRef,
  type MessageSink,
  type Modal,
  type RenderedMessage,
  type Responder,
  type UserRef,
} from '../src/bot/port/index.js';

const TIMINGS: Timings = { totalMs: 1, textEncoderMs: 0, unetMs: 0, unetCalls: 0, vaeMs: 0, hostMsPerStep: 0 };

/** A deterministic noise PNG (incompressible, so upload-limit tests have something to shrink). */
export async function noisePng(width: number, height: number, key: string): Promise<Uint8Array> {
  let state = [...key].reduce((h, c) => (Math.imul(h, 31) + c.charCodeAt(0)) >>> 0, 2166136261) || 1;
  const pixels = Buffer.alloc(width * height * 3);
  for (let i = 0; i < pixels.length; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    pixels[i] = state & 0xff;
  }
  return sharp(pixels, { raw: { width, height, channels: 3 } }).png().toBuffer();
}

async function image(width: number, height: number, key: string): Promise<ImageOutput> {
  return { png: await noisePng(width, height, key), width, height };
}

/**
 * The engine's behaviour as the bot relies on it: progress per step, cancellation between steps, a source
 * attention store (an edit of a source seen before reports reusedSource), UserErrors for bad edits.
 */
export class FakeBackend implements ImageBackend {
  readonly limits: BackendLimits = {
    maxSteps: 50,
    maxSize: 512,
    minSize: 64,
    sizeMultiple: 64,
    guidance: { min: -20, max: 30 },
    samplers: SAMPLER_NAMES,
  };
  readonly info = { model: 'fake', provider: 'cpu', defaultSampler: 'pndm' as const };
  /** Jobs it runs at once (the queue's concurrency, as a pool of engine workers would report it). */
  engines = 1;
  /** Every job the backend started, in order (an image-to-image job without its image bytes: see img2imgInputs). */
  readonly started: (JobRequest | InvertJob)[] = [];
  /** The source PNG of every image-to-image job it ran, in order. */
  readonly img2imgInputs: Uint8Array[] = [];
  private readonly storedSources = new Set<string>();
  private gate: Promise<void> | undefined;
  private openGate: (() => void) | undefined;
  private gateStep = 1;
  private failure: Error | undefined;
  closed = false;

  /** Jobs stop before step `beforeStep` (1 = before any work) until release(). */
  hold(beforeStep = 1): void {
    this.gateStep = beforeStep;
    this.gate ??= new Promise((resolve) => (this.openGate = resolve));
  }

  release(): void {
    this.openGate?.();
    this.gate = this.openGate = undefined;
  }

  watchCapacity(listener: (engines: number) => void): () => void {
    listener(this.engines);
    return () => undefined;
  }

  /** The next job fails with this error. */
  failNext(error: Error): void {
    this.failure = error;
  }

  async imagine(job: ImagineJob, opts: RunOptions): Promise<ImagineResult> {
    await this.run(job, job.params.steps, opts);
    return this.draw(job);
  }

  /** One run for the whole grid; candidate k is exactly what imagine draws with seed+k (as the engine's grid is). */
  async imagineGrid(job: ImagineGridJob, opts: RunOptions): Promise<ImagineGridResult> {
    await this.run(job, job.params.steps, opts);
    const candidates = await Promise.all(gridSeeds(job.params.seed, job.count).map((seed) => this.draw({ kind: 'imagine', params: { ...job.params, seed } })));
    return { kind: 'imagine-grid', candidates, timings: TIMINGS };
  }

  private async draw(job: ImagineJob): Promise<ImagineResult> {
    const p = job.params;
    const key = JSON.stringify(p);
    return {
      kind: 'imagine',
      params: { ...p, sampler: p.sampler ?? 'pndm' },
      image: await image(p.width, p.height, key),
      truncated: [],
      ...(job.attentionMap ? { attentionMap: await image(64, 64, `attention ${key}`) } : {}),
      timings: TIMINGS,
    };
  }

  async edit(job: EditJob, opts: RunOptions): Promise<EditResult> {
    const { source, edit } = job.params;
    await this.run(job, source.steps, opts);
    const targetPrompt = applyEdit(source.prompt, edit);
    const sourceKey = JSON.stringify(source);
    const reusedSource = this.storedSources.has(sourceKey);
    this.storedSources.add(sourceKey);
    return {
      kind: 'edit',
      params: job.params,
      targetPrompt,
      mode: /→|->/.test(edit) ? 'replace' : 'refine',
      image: await image(source.width, source.height, JSON.stringify(job.params)),
      ...(job.attentionMap ? { attentionMap: await image(64, 64, `attention ${JSON.stringify(job.params)}`) } : {}),
      reusedSource,
      sourceFrom: reusedSource ? 'store' : job.sourceTrajectory ? 'trajectory' : 'guided',
      timings: TIMINGS,
    };
  }

  /** Like the engine: refuses sizes above its limit; the image depends on the source, the seed and the strength. */
  async img2img(job: Img2ImgJob, opts: RunOptions): Promise<Img2ImgResult> {
    const { image: input, ...request } = job;
    const p = job.params;
    if (p.width > this.limits.maxSize || p.height > this.limits.maxSize) throw new UserError('bad_input', `${p.width}×${p.height} is above the ${this.limits.maxSize}-pixel limit.`);
    this.img2imgInputs.push(input);
    await this.run({ ...request, sourceJobId: 0 }, Math.max(1, Math.floor(p.steps * job.strength)), opts);
    return {
      kind: 'img2img',
      params: { ...p, sampler: p.sampler ?? 'pndm' },
      image: await image(p.width, p.height, `${Buffer.from(input).toString('base64')} ${JSON.stringify(p)} ${job.strength}`),
      truncated: [],
      strength: job.strength,
      timings: TIMINGS,
    };
  }

  /** The picture's inversion: a trajectory of the right shape (its values mean nothing), the picture as given. */
  async invert(job: InvertJob, opts: RunOptions): Promise<InvertResult> {
    await this.run(job, job.steps, opts);
    const info = await checkPhoto(job.image);
    const width = job.width ?? info.width;
    const height = job.height ?? info.height;
    const entries = job.steps + 1;
    const shape: [number, number, number, number] = [entries, 4, height / 8, width / 8];
    return {
      kind: 'invert',
      photo: { png: job.image, width, height },
      z0: { data: new Float32Array(4 * (height / 8) * (width / 8)), shape: [1, 4, height / 8, width / 8] },
      trajectory: { data: new Float32Array(entries * 4 * (height / 8) * (width / 8)), shape },
      timesteps: Array.from({ length: job.steps }, (_, i) => 1000 - (i + 1) * Math.floor(1000 / job.steps) + 1),
      truncated: [],
      timings: TIMINGS,
    };
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private async run(job: JobRequest | InvertJob, steps: number, opts: RunOptions): Promise<void> {
    this.started.push(job);
    const failure = this.failure;
    this.failure = undefined;
    for (let step = 1; step <= steps; step++) {
      // A held job still notices cancellation, as the engine does between steps.
      if (this.gate && step >= this.gateStep) await Promise.race([this.gate, whenAborted(opts.signal)]);
      if (opts.signal.aborted) throw new UserError('cancelled', 'The job was cancelled.');
      await new Promise((r) => setImmediate(r));
      // Asked-for previews come on the steps the engine would pick (a tiny WebP: the step's grey level).
      const preview = opts.preview && previewSteps(steps, opts.preview.count).has(step) ? await greyPreview(step, steps) : undefined;
      opts.onProgress({ step, total: steps, elapsedMs: step * 10, etaMs: (steps - step) * 10, ...(preview ? { preview } : {}) });
    }
    if (failure) throw failure;
  }
}

async function greyPreview(step: number, steps: number): Promise<StepPreview> {
  const level = Math.round((255 * step) / steps);
  const data = await sharp({ create: { width: 16, height: 16, channels: 3, background: { r: level, g: level, b: level } } }).webp().toBuffer();
  return { data: new Uint8Array(data), format: 'webp', width: 16, height: 16 };
}

const whenAborted = (signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })));

/** `cat→dog, red→blue` applied to the source prompt (whole words), or a full new prompt. */
function applyEdit(prompt: string, edit: string): string {
  if (!/→|->/.test(edit)) return edit;
  return edit.split(',').reduce((text, pair) => {
    const [from, to] = pair.split(/→|->/).map((s) => s.trim());
    if (!new RegExp(`\\b${from}\\b`).test(text)) throw new UserError('bad_prompt', `"${from}" is not in the prompt "${prompt}".`);
    return text.replace(new RegExp(`\\b${from}\\b`), to);
  }, prompt);
}

export interface SinkEvent {
  op: 'post' | 'edit' | 'delete';
  ref: MessageRef;
  message?: RenderedMessage;
}

/** A channel that keeps every message and records every post, edit and delete. */
export class RecordingSink implements MessageSink {
  readonly events: SinkEvent[] = [];
  /** messageId → the message as it is now. */
  readonly messages = new Map<string, { ref: MessageRef; message: RenderedMessage }>();
  private next = 1000;
  /** Set to make posts (e.g. missing permissions) or edits (e.g. message deleted) fail. */
  failPosts = false;
  failEdits = false;
  /** A per-channel edit budget, as the Discord sink declares one (none by default). */
  editBudget?: EditBudget;

  async post(channelId: string, message: RenderedMessage): Promise<MessageRef> {
    if (this.failPosts) throw new Error('Missing Permissions');
    const ref = { channelId, messageId: String(this.next++) };
    this.messages.set(ref.messageId, { ref, message });
    this.events.push({ op: 'post', ref, message });
    return ref;
  }

  async edit(ref: MessageRef, message: RenderedMessage): Promise<void> {
    if (this.failEdits) throw new Error('Unknown Message');
    if (!this.messages.has(ref.messageId)) throw new MessageGone(ref);
    this.messages.set(ref.messageId, { ref, message });
    this.events.push({ op: 'edit', ref, message });
  }

  async delete(ref: MessageRef): Promise<void> {
    if (!this.messages.delete(ref.messageId)) throw new Error('Unknown Message');
    this.events.push({ op: 'delete', ref });
  }

  /** The message currently showing job `id` (its headline names it). */
  messageOfJob(id: number): { ref: MessageRef; message: RenderedMessage } {
    const found = [...this.messages.values()].find(({ message }) => new RegExp(`job #${id}(?!\\d)`).test(message.content));
    if (!found) throw new Error(`no message shows job #${id}`);
    return found;
  }
}

export interface ResponderCall {
  op: 'defer' | 'reply' | 'editReply' | 'followUp' | 'showModal';
  message?: RenderedMessage;
  modal?: Modal;
  ephemeral?: boolean;
}

/** A responder that records calls and throws where Discord would refuse (answering twice, a modal after a defer). */
export class RecordingResponder implements Responder {
  readonly calls: ResponderCall[] = [];
  acknowledged = false;
  deferred = false;

  async defer(options: { ephemeral?: boolean } = {}): Promise<void> {
    this.first('defer');
    this.deferred = true;
    this.calls.push({ op: 'defer', ephemeral: !!options.ephemeral });
  }

  async reply(message: RenderedMessage): Promise<void> {
    this.first('reply');
    this.calls.push({ op: 'reply', message });
  }

  async editReply(message: RenderedMessage): Promise<void> {
    if (!this.acknowledged) throw new Error('editReply before the interaction was answered');
    this.calls.push({ op: 'editReply', message });
  }

  async followUp(message: RenderedMessage): Promise<void> {
    if (!this.acknowledged) throw new Error('followUp before the interaction was answered');
    this.calls.push({ op: 'followUp', message });
  }

  async showModal(modal: Modal): Promise<void> {
    this.first('showModal');
    this.calls.push({ op: 'showModal', modal });
  }

  /** The last text the user saw from this interaction. */
  get lastText(): string {
    const last = [...this.calls].reverse().find((c) => c.message);
    return last?.message?.content ?? '';
  }

  private first(op: string): void {
    if (this.acknowledged) throw new Error(`${op}: the interaction has already been answered`);
    this.acknowledged = true;
  }
}

export const alice: UserRef = { id: '100000000000000001', name: 'alice' };
export const bob: UserRef = { id: '100000000000000002', name: 'bob' };
export const carol: UserRef = { id: '100000000000000003', name: 'carol' };

type Where = { user?: UserRef; isAdmin?: boolean; channelId?: string; guildId?: string | null };
type Shape<K extends Interaction['kind']> = Omit<Extract<Interaction, { kind: K }>, keyof Responder | 'user' | 'isAdmin' | 'channelId' | 'guildId'>;

/** An interaction of any kind from `alice` in guild g1, channel c1 unless told otherwise. */
export function interaction<K extends Interaction['kind']>(shape: Shape<K>, where: Where = {}): Extract<Interaction, { kind: K }> & RecordingResponder {
  const responder = new RecordingResponder();
  return Object.assign(responder, { user: alice, isAdmin: false, channelId: 'c1', guildId: 'g1', ...where, ...shape }) as unknown as Extract<
    Interaction,
    { kind: K }
  > &
    RecordingResponder;
}

export const slash = (command: string, options: Record<string, string | number | boolean>, where?: Where, subcommand?: string) =>
  interaction<'slash'>({ kind: 'slash', command, options, ...(subcommand ? { subcommand } : {}) }, where);

export const press = (customId: string, message: MessageRef, where?: Where): ButtonInteraction & RecordingResponder =>
  interaction<'button'>({ kind: 'button', customId, message }, where);

/** Waits (yielding to the event loop) until `condition` holds; fails after many rounds instead of hanging. */
export async function eventually(condition: () => boolean, what = 'condition'): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    if (condition()) return;
    await new Promise((r) => setTimeout(r, 1));
  }
  throw new Error(`timed out waiting for ${what}`);
}

export function tempDbPath(): string {
  return join(mkdtempSync(join(tmpdir(), 'reprompt-bot-')), 'bot.db');
}

export function testSettings(overrides: Partial<AppSettings> = {}): AppSettings {
  return {
    dbPath: tempDbPath(),
    queue: { maxLength: 20, userMaxPending: 5 },
    maxSteps: 30,
    maxSize: 512,
    defaults: { steps: 4, size: 128, guidance: 7.5, count: 1 },
    uploadLimitBytes: 10 * 1024 * 1024,
    progressIntervalMs: 0,
    ...overrides,
  };
}

/** A whole bot (all commands/) on a fake backend and a recording sink. */
export function testBot(options: { settings?: AppSettings; backend?: FakeBackend; sink?: RecordingSink; messageContent?: boolean } = {}): BotApp & {
  backend: FakeBackend;
  sink: RecordingSink;
} {
  const backend = options.backend ?? new FakeBackend();
  const sink = options.sink ?? new RecordingSink();
  const app = createBotApp({ settings: options.settings ?? testSettings(), backend, sink, log: silentLogger, messageContent: options.messageContent ?? false });
  return Object.assign(app, { backend, sink });
}

/** A finished job record with every field set (override what a test looks at). */
export function doneRecord(over: Partial<JobRecord> & Pick<JobRecord, 'request'>): JobRecord {
  return {
    id: 1,
    origin: 'imagine',
    parentId: null,
    userId: alice.id,
    userName: 'alice',
    guildId: 'g1',
    channelId: 'c1',
    messageId: 'm',
    status: 'done',
    createdAt: 0,
    startedAt: 0,
    finishedAt: 0,
    error: null,
    outcome: null,
    deleted: false,
    ...over,
  };
}
