/**
 * `reprompt imagine`: draws one image from a prompt, through the same engine worker the bot uses; with `--count N`
 * (2–4) N candidates (seeds seed…seed+N−1) as one batch, written as a grid picture and one file each.
 */
import { Option, type Command } from 'commander';
import { UserError } from '../engine/errors.js';
import { GRID_COUNT_RANGE } from '../engine/grid.js';
import type { ImagineGridJob, ImagineGridResult, ImagineJob, ImagineParams, ImagineResult } from '../engine/jobs.js';
import { SIZE_RANGE, STEPS_RANGE } from '../engine/limits.js';
import { gridPicture } from '../bot/grid.js';
import { normalizeSeed, randomSeed } from '../engine/noise.js';
import { encodeNpyFloat32 } from '../engine/npy.js';
import { SAMPLER_NAMES, type SamplerName } from '../engine/schedulers/scheduler.js';
import { addEngineOptions, onEngine, type EngineCliOptions } from './engine-options.js';
import { finiteNumber, fromValidator, integer, promptText } from './options.js';
import { outputFile, writeOutputFile } from './output-file.js';
import { previewOption, previewRequest, writePreview } from './preview-out.js';
import { formatSeconds } from './progress-bar.js';

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

/** Every option is checked as the command line is parsed, before the model loads (which takes minutes with a real one). */
// Stable Diffusion's VAE scales by 8; the pipeline checks the loaded model's own factor again.
export const imageSide = integer({ ...SIZE_RANGE, multipleOf: 8 });
export const SIDE_HELP = `a multiple of 8 from ${SIZE_RANGE.min} to ${SIZE_RANGE.max}`;

export function addGenerationOptions(command: Command): Command {
  return command
    .requiredOption('--prompt <text>', 'what to draw', promptText)
    .option('--negative <text>', 'what to steer away from', '')
    .option('--seed <n>', 'noise seed, 0 to 2^64-1 (default: random, printed)', fromValidator(normalizeSeed))
    .option('--steps <n>', `sampling steps, ${STEPS_RANGE.min} to ${STEPS_RANGE.max}`, integer(STEPS_RANGE), 20)
    .option('--cfg <scale>', 'classifier-free guidance scale (any number, negative included)', finiteNumber, 7.5)
    .option('--width <px>', `image width, ${SIDE_HELP}`, imageSide, 512)
    .option('--height <px>', `image height, ${SIDE_HELP}`, imageSide, 512)
    .addOption(new Option('--scheduler <name>', "sampler (default: the model's own)").choices(SAMPLER_NAMES))
    .option('--out <file.png>', 'where to write the image (default: reprompt-<seed>.png)', outputFile)
    .option('--save-latents <file.npy>', 'also write the final latents (before VAE scaling) as float32 .npy', outputFile)
    .option('--attention-out <grid.png>', 'also write the per-token cross-attention heat-map grid', outputFile)
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
  const result = await onEngine(options, (engine, bar) => engine.run<ImagineGridResult>(job, { onProgress: (progress) => bar.update(progress) }));
  const out = options.out ?? outputFile(`reprompt-${params.seed}-grid.png`);
  writeOutputFile(out, (await gridPicture(result.candidates.map((c) => c.image))).png);
  const stem = out.replace(/(-grid)?\.png$/i, '');
  const lines = result.candidates.map((c, k) => {
    const file = `${stem}-${k + 1}.png`;
    writeOutputFile(file, c.image.png);
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

/** A checked command line, ready to run: everything a model is not needed for has been checked. */
export interface Prepared<J> {
  job: J;
  /** Where the image goes. */
  out: string;
}

/** The job and output file of `reprompt imagine` (nothing is loaded or written). */
export function prepareImagine(options: GenerationOptions): Prepared<ImagineJob> {
  const params = generationParams(options);
  const job: ImagineJob = {
    kind: 'imagine',
    params,
    returnLatents: options.saveLatents !== undefined,
    attentionMap: options.attentionOut !== undefined,
    ...previewRequest(options.previewOut),
  };
  return { job, out: options.out ?? outputFile(`reprompt-${params.seed}.png`) };
}

async function imagine(options: GenerationOptions): Promise<void> {
  const { job, out } = prepareImagine(options);
  const result = await onEngine(options, (engine, bar) =>
    engine.run<ImagineResult>(job, { onProgress: (progress) => (bar.update(progress), writePreview(options.previewOut, progress)) }),
  );

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
  writeOutputFile(out, result.image.png);
  if (options.saveLatents !== undefined) {
    if (!result.latents) throw new Error('the engine returned no latents');
    writeOutputFile(options.saveLatents, encodeNpyFloat32(result.latents.data, result.latents.shape));
  }
  if (options.attentionOut !== undefined) {
    if (!result.attentionMap) throw new Error('the engine returned no attention map');
    writeOutputFile(options.attentionOut, result.attentionMap.png);
  }
}
