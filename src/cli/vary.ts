/**
 * `reprompt vary --from IMAGE.png [--strength S]` and `reprompt upscale --from IMAGE.png`: image-to-image of a
 * finished image with the prompt and settings its PNG `parameters` text records (engine img2img job). Vary keeps
 * the size and draws new noise (Subtle 0.35 by default, `--strength 0.7` for Strong); Upscale doubles the size
 * (Lanczos) and redraws the details at strength 0.35.
 */
import { readFileSync } from 'node:fs';
import { basename, extname } from 'node:path';
import { Option, type Command } from 'commander';
import { errorMessage, UserError } from '../engine/errors.js';
import { parseParameters, readPngText } from '../engine/image.js';
import { UPSCALE_STRENGTH, upscaleSize, VARY_STRENGTH } from '../engine/img2img.js';
import type { ImagineParams, Img2ImgJob, Img2ImgResult } from '../engine/jobs.js';
import { normalizeSeed, randomSeed } from '../engine/noise.js';
import { SAMPLER_NAMES, type SamplerName } from '../engine/schedulers/scheduler.js';
import { addEngineOptions, startEngine, type EngineCliOptions } from './engine-options.js';
import { fromValidator, integer } from './options.js';
import { outputFile, writeOutputFile } from './output-file.js';
import { formatSeconds, ProgressBar } from './progress-bar.js';

interface Img2ImgCliOptions extends EngineCliOptions {
  from: string;
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
      .requiredOption('--from <image.png>', 'an image reprompt made (its PNG "parameters" text gives the prompt and settings)')
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

/** The source file and the parameters it records; UserError naming the file when either cannot be read. */
function readSource(file: string): { image: Uint8Array; params: ImagineParams } {
  let image: Uint8Array;
  try {
    image = readFileSync(file);
  } catch (e) {
    throw new UserError('bad_input', `Cannot read ${file} (${errorMessage(e)}).`);
  }
  const text = readPngText(image).parameters;
  if (text === undefined) {
    throw new UserError('bad_input', `${file} has no "parameters" text: vary and upscale need an image reprompt made (its prompt and settings).`);
  }
  const { model: _model, extra: _extra, ...params } = parseParameters(text);
  return { image, params };
}

async function run(action: 'vary' | 'upscale', options: Img2ImgCliOptions): Promise<void> {
  const source = readSource(options.from);
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
  const engine = await startEngine(options);
  const bar = new ProgressBar(process.stderr);
  let result: Img2ImgResult;
  try {
    result = await engine.run<Img2ImgResult>(job, { onProgress: (progress) => bar.update(progress) });
  } finally {
    bar.clear();
    await engine.close();
  }
  const out = options.out ?? `${basename(options.from, extname(options.from))}-${action}-${params.seed}.png`;
  writeOutputFile(out, result.image.png);
  const { seed, sampler, width, height } = result.params;
  process.stdout.write(
    `${out}  ${width}x${height}  strength=${result.strength}  seed=${seed}  sampler=${sampler}  time=${formatSeconds(result.timings.totalMs)}\n`,
  );
}
