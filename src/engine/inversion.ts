/**
 * DDIM inversion of an image's latents z₀ with its source prompt, conditional only (guidance 1), in the convention
 * of Google's null-text inversion notebook (`ddim_loop` / `next_step`), with DDIMScheduler set up from the model's
 * scheduler_config.json:
 *
 *   for i = 0 … N−1:  t = timesteps[N−1−i]; ε = unet(z, t, cond)
 *     prev = min(t − T//N, T−1); ᾱ_t = alphas_cumprod[prev] (final_alpha_cumprod when prev < 0); ᾱ_next = alphas_cumprod[t]
 *     x₀ = (z − √(1−ᾱ_t)·ε)/√ᾱ_t;   z ← √ᾱ_next·x₀ + √(1−ᾱ_next)·ε
 *
 * The result is the image's source trajectory in the order its edit is denoised: entry 0 = z*_T (most noisy),
 * entry N = z₀ (Direct Inversion replays it: after denoising step k the source row is set to entry k+1).
 */
import { UserError } from './errors.js';
import { encodePng } from './image.js';
import type { InvertJob, InvertResult, StepProgress, Timings } from './jobs.js';
import { STEPS_RANGE } from './limits.js';
import { preparePhoto } from './photo.js';
import type { StableDiffusionPipeline } from './pipeline.js';
import { AlphaSchedule } from './schedulers/alpha-schedule.js';
import { DdimScheduler } from './schedulers/ddim.js';
import type { Trajectory } from './trajectory.js';

export interface InversionRequest extends InversionHooks {
  /** z₀ = posterior mean × scaling factor ([1, C, h, w] flat), e.g. from pipeline.encodeImage. */
  latents: Float32Array;
  shape: readonly [1, number, number, number];
  /** The description of the image: the edit's source prompt. */
  prompt: string;
  steps: number;
}

export interface InversionResult {
  /** [steps + 1, C, h, w]: z*_T first, z₀ last. */
  trajectory: Trajectory;
  /** The DDIM timesteps the edit will denoise with (the UNet evaluated them in reverse order here). */
  timesteps: number[];
  /** The prompt's tokens that did not fit. */
  truncated: string[];
  timings: Timings;
}

const fround = Math.fround;

/** Throws UserError for an empty description or a step count out of range (cheap: call it before decoding). */
export function checkInversion(prompt: string, steps: number): void {
  if (typeof prompt !== 'string' || prompt.trim() === '') {
    throw new UserError('bad_prompt', 'The description is empty: describe what the image shows (the edit changes words of it).');
  }
  if (!Number.isInteger(steps) || steps < STEPS_RANGE.min || steps > STEPS_RANGE.max) {
    throw new UserError('bad_input', `Steps ${steps} is not supported: expected a whole number from ${STEPS_RANGE.min} to ${STEPS_RANGE.max}.`);
  }
}

/**
 * The `invert` job: the file's header and the settings are checked first, then photo.ts preprocesses it, the VAE
 * encodes it (posterior mean) and DDIM inverts it.
 */
export async function invertPhoto(pipeline: StableDiffusionPipeline, job: InvertJob, hooks: InversionHooks = {}): Promise<InvertResult> {
  const started = performance.now();
  checkInversion(job.prompt, job.steps);
  const photo = await preparePhoto(job.image, { width: job.width, height: job.height, maxArea: job.maxArea, multiple: pipeline.model.vaeScaleFactor });
  const encoded = await pipeline.encodeImage(photo.pixels, photo.width, photo.height);
  const inverted = await invertDdim(pipeline, { latents: encoded.latents, shape: encoded.shape, prompt: job.prompt, steps: job.steps, ...hooks });
  return {
    kind: 'invert',
    photo: { png: await encodePng(photo.image), width: photo.width, height: photo.height },
    z0: { data: encoded.latents, shape: encoded.shape },
    trajectory: inverted.trajectory,
    timesteps: inverted.timesteps,
    truncated: inverted.truncated,
    timings: { ...inverted.timings, vaeMs: encoded.runMs, totalMs: performance.now() - started },
  };
}

export interface InversionHooks {
  onProgress?(p: StepProgress): void;
  shouldCancel?(): boolean;
}

export async function invertDdim(pipeline: StableDiffusionPipeline, req: InversionRequest): Promise<InversionResult> {
  const started = performance.now();
  checkInversion(req.prompt, req.steps);
  const [, channels, height, width] = req.shape;
  const latentSize = channels * height * width;
  if (req.latents.length !== latentSize) {
    throw new UserError('bad_input', `Latents of length ${req.latents.length} do not match the shape [${req.shape.join(', ')}].`);
  }

  const scheduler = new DdimScheduler(pipeline.model.schedulerConfig);
  scheduler.setTimesteps(req.steps);
  const config = scheduler.config;
  const alphas = new AlphaSchedule('DDIMScheduler', config, config.rescale_betas_zero_snr);
  const stride = Math.floor(config.num_train_timesteps / req.steps);
  const timesteps = [...scheduler.timesteps];
  const n = timesteps.length;

  const tokens = pipeline.tokenizer.encodePadded(req.prompt);
  const embeddings = await pipeline.textEncoder.encode([tokens.ids]);
  const hiddenStates = pipeline.unet.hiddenStates(embeddings.data, embeddings.dims);

  // Filled from the end: entry n is z₀, entry n−1−i the latents after inversion step i.
  const data = new Float32Array((n + 1) * latentSize);
  data.set(req.latents, n * latentSize);
  let latent = req.latents;
  let unetMs = 0;
  const loopStart = performance.now();
  for (let i = 0; i < n; i++) {
    if (req.shouldCancel?.()) throw new UserError('cancelled', 'The job was cancelled.');
    const t = timesteps[n - 1 - i];
    const output = await pipeline.unet.run({ sample: latent, dims: [1, channels, height, width], timestep: t, encoderHiddenStates: hiddenStates });
    unetMs += output.runMs;
    latent = nextStep(output.noisePred, latent, alphas.at(Math.min(t - stride, config.num_train_timesteps - 1)), alphas.at(t));
    data.set(latent, (n - 1 - i) * latentSize);
    const now = performance.now();
    req.onProgress?.({ step: i + 1, total: n, elapsedMs: now - started, etaMs: ((now - loopStart) / (i + 1)) * (n - 1 - i) });
  }
  const loopMs = performance.now() - loopStart;
  return {
    trajectory: { data, shape: [n + 1, channels, height, width] },
    timesteps,
    truncated: tokens.truncated,
    timings: {
      totalMs: performance.now() - started,
      textEncoderMs: embeddings.runMs,
      unetMs,
      unetCalls: n,
      vaeMs: 0,
      hostMsPerStep: n > 0 ? (loopMs - unetMs) / n : 0,
    },
  };
}

/** The notebook's next_step: from noise level ᾱ_t up to ᾱ_next along ε, float32 at each operation as torch. */
function nextStep(eps: Float32Array, latent: Float32Array, alphaT: number, alphaNext: number): Float32Array {
  const sqrtAlpha = fround(Math.sqrt(alphaT));
  const sqrtBeta = fround(Math.sqrt(fround(1 - alphaT)));
  const sqrtAlphaNext = fround(Math.sqrt(alphaNext));
  const sqrtBetaNext = fround(Math.sqrt(fround(1 - alphaNext)));
  const out = new Float32Array(latent.length);
  for (let i = 0; i < latent.length; i++) {
    const original = fround(fround(latent[i] - fround(sqrtBeta * eps[i])) / sqrtAlpha);
    out[i] = fround(sqrtAlphaNext * original) + fround(sqrtBetaNext * eps[i]);
  }
  return out;
}
