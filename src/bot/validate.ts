/**
 * User input → job parameters, checked against the model's limits and the operator's caps. Every problem is a
 * UserError('bad_input') naming the option and what is allowed.
 */
import { UserError } from '../engine/errors.js';
import type { ImagineParams } from '../engine/jobs.js';
import { normalizeSeed, randomSeed } from '../engine/noise/seed.js';
import { checkPromptCharacters } from '../engine/prompt-text.js';
import type { SamplerName } from '../engine/schedulers/scheduler.js';
import type { EditParams, StepWindow } from '../p2p/jobs.js';
import type { BackendLimits } from './backend.js';
import { GRID_COUNT_RANGE } from '../engine/grid.js';
import type { JobRequest } from './job.js';
import type { OptionValue } from './port/index.js';

export interface Defaults {
  steps: number;
  size: number;
  guidance: number;
  /** Candidates per /imagine (1 = a single image, 2–4 = a grid). */
  count: number;
}

/** Longest prompt, negative prompt or edit text accepted (CLIP keeps 77 tokens anyway; the rest is reported). */
export const MAX_TEXT = 1000;

/** The model's limits narrowed by the operator's MAX_STEPS and MAX_SIZE. */
export function effectiveLimits(model: BackendLimits, caps: { maxSteps: number; maxSize: number }): BackendLimits {
  const maxSize = Math.max(model.minSize, roundDown(Math.min(model.maxSize, caps.maxSize), model.sizeMultiple));
  return { ...model, maxSteps: Math.min(model.maxSteps, caps.maxSteps), maxSize };
}

/** The operator's defaults, brought inside the effective limits (a default the model cannot do would fail every job). */
export function usableDefaults(defaults: Defaults, limits: BackendLimits): Defaults {
  const size = Math.max(limits.minSize, roundDown(Math.min(defaults.size, limits.maxSize), limits.sizeMultiple));
  return { ...defaults, steps: Math.min(defaults.steps, limits.maxSteps), size };
}

type Options = Readonly<Record<string, OptionValue | undefined>>;

/** The /imagine options (prompt, negative, seed, steps, cfg, width, height, sampler) → checked parameters. */
export function imagineParamsFrom(options: Options, limits: BackendLimits, defaults: Defaults): ImagineParams {
  const seed = optionalString(options, 'seed');
  const sampler = optionalString(options, 'sampler');
  const params: ImagineParams = {
    prompt: requiredText(options, 'prompt', 'describe the picture you want'),
    negativePrompt: optionalString(options, 'negative') ?? '',
    seed: seed === undefined ? randomSeed() : normalizeSeed(seed),
    steps: optionalNumber(options, 'steps') ?? defaults.steps,
    guidance: optionalNumber(options, 'cfg') ?? defaults.guidance,
    width: optionalNumber(options, 'width') ?? defaults.size,
    height: optionalNumber(options, 'height') ?? defaults.size,
    ...(sampler === undefined ? {} : { sampler: sampler as SamplerName }),
  };
  checkImagineParams(params, limits);
  return params;
}

/** Throws when generation parameters are outside the limits (also used for jobs derived by buttons or resumed). */
function checkImagineParams(p: ImagineParams, limits: BackendLimits): void {
  checkText('prompt', p.prompt, true);
  checkText('negative', p.negativePrompt, false);
  normalizeSeed(p.seed);
  if (!Number.isInteger(p.steps) || p.steps < 1 || p.steps > limits.maxSteps) {
    throw bad(`steps ${p.steps} is not allowed: use a whole number from 1 to ${limits.maxSteps}.`);
  }
  checkGuidance('cfg', p.guidance, limits);
  for (const [name, value] of [['width', p.width], ['height', p.height]] as const) {
    if (!Number.isInteger(value) || value < limits.minSize || value > limits.maxSize || value % limits.sizeMultiple !== 0) {
      throw bad(`${name} ${value} is not allowed: use a multiple of ${limits.sizeMultiple} from ${limits.minSize} to ${limits.maxSize}.`);
    }
  }
  if (p.sampler !== undefined && !limits.samplers.includes(p.sampler)) {
    throw bad(`sampler "${p.sampler}" is not available: choose one of ${limits.samplers.join(', ')}.`);
  }
}

/** The optional edit settings users can give (slash options, modal fields, buttons). */
export interface EditSettings {
  cross?: number;
  self?: number;
  blend?: string[];
  guidance?: number;
}

/** Edit settings from slash options or modal text fields ('' = not given). */
export function editSettingsFrom(options: Options, limits: BackendLimits): EditSettings {
  const settings: EditSettings = {};
  const cross = optionalNumber(options, 'cross');
  const self = optionalNumber(options, 'self');
  const guidance = optionalNumber(options, 'cfg');
  const blend = optionalString(options, 'blend');
  if (cross !== undefined) settings.cross = checkWindow('cross', cross);
  if (self !== undefined) settings.self = checkWindow('self', self);
  if (guidance !== undefined) settings.guidance = checkGuidance('cfg', guidance, limits);
  if (blend !== undefined) settings.blend = blendWords(checkedText('blend', blend));
  return settings;
}

export function requiredEditText(options: Options): string {
  return requiredText(options, 'edit', 'write the change, e.g. cat→dog, or a whole new prompt');
}

/** Throws when edit parameters are outside the limits. */
function checkEditParams(p: EditParams, limits: BackendLimits): void {
  checkImagineParams(p.source, limits);
  checkText('edit', p.edit, !p.weights?.length);
  for (const [name, window] of [['cross', p.cross], ['self', p.self]] as const) {
    if (window === undefined) continue;
    const [start, end] = typeof window === 'number' ? [0, window] : window;
    if (!(start >= 0 && end > start && end <= 1)) throw bad(`${name} window ${JSON.stringify(window)} is not allowed: use a fraction of the steps above 0 and at most 1.`);
  }
  if (p.guidance !== undefined) checkGuidance('cfg', p.guidance, limits);
}

/** The end of a step window (a number f means [0, f)). */
export const windowEnd = (w: StepWindow): number => (typeof w === 'number' ? w : w[1]);

function checkWindow(name: string, value: number): number {
  if (!(value > 0 && value <= 1)) throw bad(`${name} ${value} is not allowed: use a fraction of the steps above 0 and at most 1 (e.g. 0.8).`);
  return value;
}

function checkGuidance(name: string, value: number, limits: BackendLimits): number {
  if (!Number.isFinite(value) || value < limits.guidance.min || value > limits.guidance.max) {
    throw bad(`${name} ${value} is not allowed: use a number from ${limits.guidance.min} to ${limits.guidance.max}.`);
  }
  return value;
}

function checkText(name: string, text: string, required: boolean): void {
  if (required && text.trim() === '') throw bad(`${name} is empty.`);
  if (text.length > MAX_TEXT) throw bad(`${name} is ${text.length} characters long: the limit is ${MAX_TEXT}.`);
  checkPromptCharacters(name, text, 'bad_input');
}

function checkedText(name: string, text: string): string {
  checkText(name, text, false);
  return text;
}

function blendWords(text: string): string[] | undefined {
  const words = text.split(/[,\s]+/).map((w) => w.trim()).filter(Boolean);
  return words.length > 0 ? words : undefined;
}

function requiredText(options: Options, name: string, hint: string): string {
  const value = optionalString(options, name);
  if (value === undefined) throw bad(`${name} is empty: ${hint}.`);
  checkText(name, value, true);
  return value;
}

function optionalString(options: Options, name: string): string | undefined {
  const value = options[name];
  if (value === undefined) return undefined;
  const text = String(value).trim();
  return text === '' ? undefined : text;
}

/** Numbers arrive typed from slash options and as text from modal fields. */
function optionalNumber(options: Options, name: string): number | undefined {
  const value = options[name];
  if (value === undefined || (typeof value === 'string' && value.trim() === '')) return undefined;
  const n = typeof value === 'number' ? value : Number(String(value).trim());
  if (typeof value === 'boolean' || !Number.isFinite(n)) throw bad(`${name} "${String(value)}" is not a number.`);
  return n;
}

const roundDown = (value: number, multiple: number): number => Math.floor(value / multiple) * multiple;
const bad = (message: string): UserError => new UserError('bad_input', message);

/** Checks a stored or derived job request against the current limits. */
export function checkRequest(request: JobRequest, limits: BackendLimits): void {
  if (request.kind === 'edit') checkEditParams(request.params, limits);
  else checkImagineParams(request.params, limits);
  if (request.kind === 'img2img' && !(request.strength >= 0 && request.strength <= 1)) throw bad(`strength ${request.strength} is outside 0–1.`);
  if (request.kind === 'imagine-grid' && !(Number.isInteger(request.count) && request.count >= 2 && request.count <= GRID_COUNT_RANGE.max)) {
    throw bad(`count ${request.count} is not allowed: use a whole number from ${GRID_COUNT_RANGE.min} to ${GRID_COUNT_RANGE.max}.`);
  }
}
