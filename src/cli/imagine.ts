/** `reprompt imagine`: draws one image from a prompt, through the same engine worker the bot uses. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import type { ImagineJob, ImagineParams, ImagineResult } from '../engine/jobs.js';
import { normalizeSeed, randomSeed } from '../engine/noise.js';
import { writeNpyFloat32 } from '../engine/npy.js';
import { SAMPLER_NAMES, type SamplerName } from '../engine/schedulers/scheduler.js';
import { addEngineOptions, startEngine, type EngineCliOptions } from './engine-options.js';
import { finiteNumber, fromValidator, integer } from './options.js';
import { formatSeconds, ProgressBar } from './progress-bar.js';

interface ImagineOptions extends EngineCliOptions {
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
}

const imageSide = integer({ min: 8, multipleOf: 8 });

export function register(program: Command): void {
  const command = program
    .command('imagine')
    .description('draw an image from a prompt')
    .requiredOption('--prompt <text>', 'what to draw')
    .option('--negative <text>', 'what to steer away from', '')
    .option('--seed <n>', 'noise seed, 0 to 2^64-1 (default: random, printed)', fromValidator(normalizeSeed))
    .option('--steps <n>', 'sampling steps', integer({ min: 1 }), 20)
    .option('--cfg <scale>', 'classifier-free guidance scale (any number, negative included)', finiteNumber, 7.5)
    .option('--width <px>', 'image width, a multiple of 8', imageSide, 512)
    .option('--height <px>', 'image height, a multiple of 8', imageSide, 512)
    .addOption(new Option('--scheduler <name>', "sampler (default: the model's own)").choices(SAMPLER_NAMES))
    .option('--out <file.png>', 'where to write the image (default: reprompt-<seed>.png)')
    .option('--save-latents <file.npy>', 'also write the final latents (before VAE scaling) as float32 .npy');
  addEngineOptions(command).action((options: ImagineOptions) => imagine(options));
}

async function imagine(options: ImagineOptions): Promise<void> {
  const params: ImagineParams = {
    prompt: options.prompt,
    negativePrompt: options.negative,
    seed: options.seed ?? randomSeed(),
    steps: options.steps,
    guidance: options.cfg,
    width: options.width,
    height: options.height,
    sampler: options.scheduler,
  };
  const job: ImagineJob = { kind: 'imagine', params, returnLatents: options.saveLatents !== undefined };
  const engine = await startEngine(options);
  const bar = new ProgressBar(process.stderr);
  let result: ImagineResult;
  try {
    result = await engine.run<ImagineResult>(job, { onProgress: (progress) => bar.update(progress) });
  } finally {
    bar.clear();
    await engine.close();
  }

  const out = options.out ?? `reprompt-${params.seed}.png`;
  ensureParentDir(out);
  writeFileSync(out, result.image.png);
  if (options.saveLatents !== undefined) {
    if (!result.latents) throw new Error('the engine returned no latents');
    ensureParentDir(options.saveLatents);
    writeNpyFloat32(options.saveLatents, result.latents.data, result.latents.shape);
  }
  if (result.truncated.length > 0) {
    process.stderr.write(`reprompt: the prompt is longer than 77 tokens; ignored: ${result.truncated.join(' ')}\n`);
  }
  const { seed, sampler } = result.params;
  process.stdout.write(`${out}  seed=${seed}  sampler=${sampler}  time=${formatSeconds(result.timings.totalMs)}\n`);
}

function ensureParentDir(path: string): void {
  mkdirSync(dirname(resolve(path)), { recursive: true });
}
