/**
 * `reprompt imagine`: draws one image from a prompt, through the same engine worker the bot uses; with `--count N`
 * (2–4) N candidates (seeds seed…seed+N−1) as one batch, written as a grid picture and one file each.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { UserError } from '../engine/errors.js';
import { GRID_COUNT_RANGE } from '../engine/grid.js';
import type { ImagineGridJob, ImagineGridResult, ImagineJob, ImagineParams, ImagineResult } from '../engine/jobs.js';
import { gridPicture } from '../bot/grid.js';
import { normalizeSeed, randomSeed } from '../engine/noise.js';
import { writeNpyFloat32 } from '../engine/npy.js';
import { SAMPLER_NAMES, type SamplerName } from '../engine/schedulers/scheduler.js';
import { addEngineOptions, startEngine, type EngineCliOptions } from './engine-options.js';
import { finiteNumber, fromValidator, integer } from './options.js';
import { previewOption, previewRequest, writePreview } from './preview-out.js';
import { formatSeconds, ProgressBar } from './progress-bar.js';

/** The generation options `imagine` and `edit` share (the edit's are its source image's). */
export interface GenerationOptions extends EngineCliOptions {
  prompt: string;
  negative: string;
  seed?: string;
  steps: number;
  cfg: number;
  width: number;
  height: number;
  scheduler?: SamplerName;
  out?: string;
  saveLatents?: string;
  attentionOut?: string;
  previewOut?: string;
}

const imageSide = integer({ min: 8, multipleOf: 8 });

export function addGenerationOptions(command: Command): Command {
  return command
    .requiredOption('--prompt <text>', 'what to draw')
    .option('--negative <text>', 'what to steer away from', '')
    .option('--seed <n>', 'noise seed, 0 to 2^64-1 (default: random, printed)', fromValidator(normalizeSeed))
    .option('--steps <n>', 'sampling steps', integer({ min: 1 }), 20)
    .option('--cfg <scale>', 'classifier-free guidance scale (any number, negative included)', finiteNumber, 7.5)
    .option('--width <px>', 'image width, a multiple of 8', imageSide, 512)
    .option('--height <px>', 'image height, a multiple of 8', imageSide, 512)
    .addOption(new Option('--scheduler <name>', "sampler (default: the model's own)").choices(SAMPLER_NAMES))
    .option('--out <file.png>', 'where to write the image (default: reprompt-<seed>.png)')
    .option('--save-latents <file.npy>', 'also write the final latents (before VAE scaling) as float32 .npy')
    .option('--attention-out <grid.png>', 'also write the per-token cross-attention heat-map grid')
    .option(...previewOption);
}

export function register(program: Command): void {
  const command = addGenerationOptions(program.command('imagine').description('draw an image from a prompt'))
    .option('--count <n>', `candidates, seeds seed…seed+n−1 in one batch (${GRID_COUNT_RANGE.min}–${GRID_COUNT_RANGE.max}); above 1: a grid picture and one file each`, integer(GRID_COUNT_RANGE), 1);
  addEngineOptions(command).action((options: GenerationOptions & { count: number }) => (options.count > 1 ? imagineGrid(options) : imagine(options)));
}

/** `--count N`: the grid picture at --out (default reprompt-<seed>-grid.png) and each candidate as `<name>-<k>.png`. */
async function imagineGrid(options: GenerationOptions & { count: number }): Promise<void> {
  for (const [flag, value] of [['--save-latents', options.saveLatents], ['--attention-out', options.attentionOut], ['--preview-out', options.previewOut]] as const) {
    if (value !== undefined) throw new UserError('bad_input', `${flag} is for one image: leave it out with --count ${options.count}.`);
  }
  const params = generationParams(options);
  const job: ImagineGridJob = { kind: 'imagine-grid', params, count: options.count };
  const engine = await startEngine(options);
  const bar = new ProgressBar(process.stderr);
  let result: ImagineGridResult;
  try {
    result = await engine.run<ImagineGridResult>(job, { onProgress: (progress) => bar.update(progress) });
  } finally {
    bar.clear();
    await engine.close();
  }
  const out = options.out ?? `reprompt-${params.seed}-grid.png`;
  writeFile(out, (await gridPicture(result.candidates.map((c) => c.image))).png);
  const stem = out.replace(/(-grid)?\.png$/i, '');
  const lines = result.candidates.map((c, k) => {
    const file = `${stem}-${k + 1}.png`;
    writeFile(file, c.image.png);
    return `${file}  seed=${c.params.seed}`;
  });
  const { sampler } = result.candidates[0].params;
  process.stdout.write(`${out}  count=${options.count}  sampler=${sampler}  time=${formatSeconds(result.timings.totalMs)}\n${lines.join('\n')}\n`);
}

/** The generation parameters of the options (a random seed when none was given). */
export function generationParams(options: GenerationOptions): ImagineParams {
  return {
    prompt: options.prompt,
    negativePrompt: options.negative,
    seed: options.seed ?? randomSeed(),
    steps: options.steps,
    guidance: options.cfg,
    width: options.width,
    height: options.height,
    sampler: options.scheduler,
  };
}

async function imagine(options: GenerationOptions): Promise<void> {
  const params = generationParams(options);
  const job: ImagineJob = {
    kind: 'imagine',
    params,
    returnLatents: options.saveLatents !== undefined,
    attentionMap: options.attentionOut !== undefined,
    ...previewRequest(options.previewOut),
  };
  const engine = await startEngine(options);
  const bar = new ProgressBar(process.stderr);
  let result: ImagineResult;
  try {
    result = await engine.run<ImagineResult>(job, { onProgress: (progress) => (bar.update(progress), writePreview(options.previewOut, progress)) });
  } finally {
    bar.clear();
    await engine.close();
  }

  const out = options.out ?? `reprompt-${params.seed}.png`;
  writeOutputs(out, result, options);
  if (result.truncated.length > 0) {
    process.stderr.write(`reprompt: the prompt is longer than 77 tokens; ignored: ${result.truncated.join(' ')}\n`);
  }
  const { seed, sampler } = result.params;
  process.stdout.write(`${out}  seed=${seed}  sampler=${sampler}  time=${formatSeconds(result.timings.totalMs)}\n`);
}

/** Writes the image, and the latents and attention grid when asked for. */
export function writeOutputs(
  out: string,
  result: { image: { png: Uint8Array }; latents?: { data: Float32Array; shape: number[] }; attentionMap?: { png: Uint8Array } },
  options: { saveLatents?: string; attentionOut?: string },
): void {
  writeFile(out, result.image.png);
  if (options.saveLatents !== undefined) {
    if (!result.latents) throw new Error('the engine returned no latents');
    ensureParentDir(options.saveLatents);
    writeNpyFloat32(options.saveLatents, result.latents.data, result.latents.shape);
  }
  if (options.attentionOut !== undefined) {
    if (!result.attentionMap) throw new Error('the engine returned no attention map');
    writeFile(options.attentionOut, result.attentionMap.png);
  }
}

export function writeFile(path: string, bytes: Uint8Array): void {
  ensureParentDir(path);
  writeFileSync(path, bytes);
}

function ensureParentDir(path: string): void {
  mkdirSync(dirname(resolve(path)), { recursive: true });
}
