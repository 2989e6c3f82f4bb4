/**
 * `reprompt vary --from IMAGE.png|--job N [--strength S]` and `reprompt upscale --from IMAGE.png|--job N`:
 * image-to-image of a finished image with the prompt and settings its PNG `parameters` text records (engine img2img
 * job). `--job N` takes job N's image from the bot's database (`--db`, default the bot's DB_PATH default): the bot
 * keeps the PNG of every job it finishes. Vary keeps
 * the size and draws new noise (Subtle 0.35 by default, `--strength 0.7` for Strong); Upscale doubles the size
 * (Lanczos) and redraws the details at strength 0.35.
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, extname } from 'node:path';
import { Option, type Command } from 'commander';
import { errorMessage, UserError } from '../engine/errors.js';
import { parseParameters, readPngText } from '../engine/image.js';
import { UPSCALE_STRENGTH, upscaleSize, VARY_STRENGTH } from '../engine/img2img.js';
import type { ImagineParams, Img2ImgJob, Img2ImgResult } from '../engine/jobs.js';
import { normalizeSeed, randomSeed } from '../engine/noise.js';
import { SAMPLER_NAMES, type SamplerName } from '../engine/schedulers/scheduler.js';
import { defaultDbPath } from '../bot/config.js';
import { JobStore } from '../bot/store.js';
import { addEngineOptions, onEngine, type EngineCliOptions } from './engine-options.js';
import { fromValidator, integer } from './options.js';
import { outputFile, writeOutputFile } from './output-file.js';
import { formatSeconds } from './progress-bar.js';

interface Img2ImgCliOptions extends EngineCliOptions {
  from?: string;
  job?: number;
  db: string;
  strength: number;
  seed?: string;
  steps?: number;
  scheduler?: SamplerName;
  out?: string;
}

const strength = fromValidator((text: string) => {
  const value = text.trim() === '' ? NaN : Number(text);
  if (!Number.isFinite(value) || value < 0 || value > 1) throw new UserError('bad_input', 'Expected a number from 0 to 1.');
  return value;
});

function addImg2ImgOptions(command: Command, defaultStrength: number): Command {
  return addEngineOptions(
    command
      .option('--from <image.png>', 'an image reprompt made (its PNG "parameters" text gives the prompt and settings)')
      .option('--job <n>', "or: job N's image from the bot's database", integer({ min: 1 }))
      .option('--db <file>', 'the bot’s job database (for --job; default: the bot’s DB_PATH default)', defaultDbPath())
      .option('--strength <s>', 'how much to redraw, 0 (nothing) to 1 (everything)', strength, defaultStrength)
      .option('--seed <n>', 'noise seed (default: random, printed)', fromValidator(normalizeSeed))
      .option('--steps <n>', "sampling steps (default: the image's)", integer({ min: 1 }))
      .addOption(new Option('--scheduler <name>', "sampler (default: the image's)").choices(SAMPLER_NAMES))
      .option('--out <file.png>', 'where to write the image (default: <name>-vary-<seed>.png / <name>-upscale-<seed>.png)', outputFile),
  );
}

export function register(program: Command): void {
  addImg2ImgOptions(
    program.command('vary').description(`a variation of an image: same prompt and size, new noise (subtle ${VARY_STRENGTH.subtle}, strong ${VARY_STRENGTH.strong})`),
    VARY_STRENGTH.subtle,
  ).action((options: Img2ImgCliOptions) => run('vary', options));
}

/** `reprompt upscale` (its own entry in subcommands.ts, loaded from ./upscale.ts). */
export function registerUpscale(program: Command): void {
  addImg2ImgOptions(program.command('upscale').description('the image at twice the size, details redrawn (img2img)'), UPSCALE_STRENGTH).action(
    (options: Img2ImgCliOptions) => run('upscale', options),
  );
}

/** The source image (--from or --job) and the parameters it records; a UserError naming what cannot be read. */
function readSource(options: Img2ImgCliOptions): { image: Uint8Array; params: ImagineParams; name: string } {
  if ((options.from === undefined) === (options.job === undefined)) throw new UserError('bad_input', 'Give the image with either --from IMAGE.png or --job N.');
  const name = options.from ?? `job-${options.job}`;
  const image = options.from !== undefined ? readImageFile(options.from) : readJobImage(options.job!, options.db);
  const text = readPngText(image).parameters;
  if (text === undefined) {
    throw new UserError('bad_input', `${name} has no "parameters" text: vary and upscale need an image reprompt made (its prompt and settings).`);
  }
  const { model: _model, extra: _extra, ...params } = parseParameters(text);
  return { image, params, name };
}

function readImageFile(file: string): Uint8Array {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new UserError('bad_input', `Cannot read ${file} (${errorMessage(e)}).`);
  }
}

/** The PNG the bot kept of job N (its database is opened only when it exists: nothing is created here). */
function readJobImage(jobId: number, db: string): Uint8Array {
  if (!existsSync(db)) throw new UserError('bad_input', `There is no bot database at ${db}: give the bot's DB_PATH with --db.`);
  const store = new JobStore(db);
  try {
    const job = store.get(jobId);
    if (!job) throw new UserError('bad_input', `${db} has no job #${jobId}.`);
    const png = store.image(jobId);
    if (!png) throw new UserError('bad_input', `Job #${jobId} has no kept image (${job.status === 'done' ? 'it finished before the bot kept images' : `it is ${job.status}`}).`);
    return png;
  } finally {
    store.close();
  }
}

async function run(action: 'vary' | 'upscale', options: Img2ImgCliOptions): Promise<void> {
  const source = readSource(options);
  const size = action === 'upscale' ? upscaleSize(source.params.width, source.params.height) : source.params;
  const params: ImagineParams = {
    ...source.params,
    width: size.width,
    height: size.height,
    seed: options.seed ?? randomSeed(),
    steps: options.steps ?? source.params.steps,
    sampler: options.scheduler ?? source.params.sampler,
  };
  const job: Img2ImgJob = { kind: 'img2img', params, image: source.image, strength: options.strength };
  const result = await onEngine(options, (engine, bar) => engine.run<Img2ImgResult>(job, { onProgress: (progress) => bar.update(progress) }));
  const out = options.out ?? `${basename(source.name, extname(source.name))}-${action}-${params.seed}.png`;
  writeOutputFile(out, result.image.png);
  const { seed, sampler, width, height } = result.params;
  process.stdout.write(
    `${out}  ${width}x${height}  strength=${result.strength}  seed=${seed}  sampler=${sampler}  time=${formatSeconds(result.timings.totalMs)}\n`,
  );
}
