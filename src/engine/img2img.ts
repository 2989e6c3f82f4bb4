/**
 * Image-to-image with diffusers' StableDiffusionImg2ImgPipeline semantics (0.25):
 * - `get_timesteps`: init_timestep = min(int(steps·strength), steps), t_start = max(steps − init_timestep, 0); the
 *   run is the last init_timestep entries of the sampler's schedule (`timesteps[t_start·order:]`, order 1 here).
 * - `prepare_latents`: noise = randn(one latent) from the job's generator (the same first draw as text-to-image),
 *   then `scheduler.add_noise(init_latents, noise, timesteps[t_start])`:
 *     ᾱ samplers (PNDM, DDIM, LCM): √ᾱ_t·x₀ + √(1 − ᾱ_t)·ε
 *     σ samplers (Euler, Euler a, LMS): x₀ + σ·ε with σ = sigmas[t_start] (the run's first step)
 *     DPM++ (2M, Karras): α_t·x₀ + σ_t·ε with α_t = 1/√(σ² + 1), σ_t = σ·α_t
 * - PNDM: diffusers runs it afresh on the cut schedule (`timesteps[t_start:]` of its n + 1 evaluations, history
 *   empty), and so does reprompt; LMS and DPM++ start at step index t_start with no history (Scheduler.beginAt).
 *   Noise is added at the first timestep of the run.
 * - strength 0 runs no step and returns the input latents as they are (diffusers would fail on an empty schedule,
 *   or, with PNDM's extra evaluation, run one step).
 */
import { UserError } from './errors.js';
import { encodePng, formatParameters } from './image.js';
import type { Img2ImgJob, Img2ImgResult, StepProgress } from './jobs.js';
import { SIZE_RANGE } from './limits.js';
import { preparePhoto } from './photo.js';
import { imageRequest, type StableDiffusionPipeline } from './pipeline.js';
import { alphasCumprod } from './schedulers/betas.js';
import type { SamplerName, Scheduler } from './schedulers/scheduler.js';

/** Vary (Subtle / Strong) and Upscale ×2 ("hires fix") strengths. */
export const VARY_STRENGTH = { subtle: 0.35, strong: 0.7 } as const;
export const UPSCALE_STRENGTH = 0.35;
export const UPSCALE_FACTOR = 2;

type NoiseRule = { kind: 'alpha'; className: string } | { kind: 'sigma' } | { kind: 'vp-sigma' };

/** How each sampler's add_noise works (every sampler has one: the compiler checks the record is complete). */
const NOISE_RULES: Record<SamplerName, NoiseRule> = {
  pndm: { kind: 'alpha', className: 'PNDMScheduler' },
  ddim: { kind: 'alpha', className: 'DDIMScheduler' },
  lcm: { kind: 'alpha', className: 'LCMScheduler' },
  euler: { kind: 'sigma' },
  'euler-a': { kind: 'sigma' },
  lms: { kind: 'sigma' },
  'dpm++2m': { kind: 'vp-sigma' },
  'dpm++2m-karras': { kind: 'vp-sigma' },
};

/** Throws UserError('bad_input') for a strength outside [0, 1]. */
export function checkImg2Img(strength: number): void {
  if (typeof strength !== 'number' || !Number.isFinite(strength) || strength < 0 || strength > 1) {
    throw new UserError('bad_input', `Strength ${strength} is not supported: expected a number from 0 (keep the image) to 1 (redraw it).`);
  }
}

/**
 * diffusers' get_timesteps: the index into the schedule of the first step an image-to-image run takes; `steps`
 * (no step at all) at strength 0.
 */
export function img2imgStartIndex(steps: number, strength: number): number {
  const initTimestep = Math.min(Math.floor(steps * strength), steps);
  return Math.max(steps - initTimestep, 0);
}

/** Sets the scheduler up to run from schedule index `index`; returns the loop's first index (see above). */
export function beginImg2Img(scheduler: Scheduler, index: number): number {
  return scheduler.beginAt?.(index) ?? index;
}

/**
 * `scheduler.add_noise(original, noise, timesteps[index])` for a set-up scheduler, float32 at each operation as
 * torch computes it. `noise` is one latent or as long as `original`; the result has `original`'s length.
 */
export function addNoise(scheduler: Scheduler, original: Float32Array, noise: Float32Array, index: number): Float32Array {
  const rule = NOISE_RULES[scheduler.name];
  const fround = Math.fround;
  const n = noise.length;
  if (rule.kind === 'sigma') {
    const sigma = scheduler.sigmas![index];
    return original.map((x, i) => x + fround(noise[i % n] * sigma));
  }
  if (rule.kind === 'vp-sigma') {
    const sigma = scheduler.sigmas![index];
    const alphaT = fround(1 / fround(Math.sqrt(fround(fround(sigma * sigma) + 1))));
    const sigmaT = fround(sigma * alphaT);
    return original.map((x, i) => fround(alphaT * x) + fround(sigmaT * noise[i % n]));
  }
  const rescale = scheduler.config.rescale_betas_zero_snr === true;
  const alpha = alphasCumprod(rule.className, scheduler.config as Parameters<typeof alphasCumprod>[1], rescale)[scheduler.timesteps[index]];
  const signal = fround(Math.sqrt(alpha));
  const spread = fround(Math.sqrt(fround(1 - alpha)));
  return original.map((x, i) => fround(signal * x) + fround(spread * noise[i % n]));
}

/**
 * The `img2img` job: settings checked first (cheap), then the image is resized to the output size (photo.ts: a
 * Lanczos resize, centre-cropped if the aspect differs), VAE-encoded (posterior mean), noised to the strength's
 * point of the schedule with the seed's first draw, and denoised with `params`. The PNG's parameters carry
 * A1111's "Denoising strength".
 */
export async function img2img(
  pipeline: StableDiffusionPipeline,
  job: Img2ImgJob,
  hooks: { onProgress?(p: StepProgress): void; shouldCancel?(): boolean } = {},
): Promise<Img2ImgResult> {
  const started = performance.now();
  const params = pipeline.resolve(job.params);
  checkImg2Img(job.strength);
  const photo = await preparePhoto(job.image, { width: params.width, height: params.height, multiple: pipeline.model.vaeScaleFactor });
  const encoded = await pipeline.encodeImage(photo.pixels, photo.width, photo.height);
  const denoised = await pipeline.denoise({
    ...imageRequest(params),
    init: { latents: encoded.latents, strength: job.strength },
    onProgress: hooks.onProgress,
    shouldCancel: hooks.shouldCancel,
  });
  const decodeStart = performance.now();
  const [image] = await pipeline.decode(denoised.latents, denoised.shape);
  const vaeMs = encoded.runMs + (performance.now() - decodeStart);
  const parameters = formatParameters({ ...params, model: pipeline.model.name, extra: { 'Denoising strength': job.strength } });
  return {
    kind: 'img2img',
    params,
    strength: job.strength,
    image: { png: await encodePng(image, { parameters }), width: params.width, height: params.height },
    truncated: denoised.truncated[0],
    latents: { data: denoised.latents, shape: [...denoised.shape] },
    timings: { ...denoised.timings, vaeMs, totalMs: performance.now() - started },
  };
}

/** The output size of Upscale ×2; UserError('bad_input') that names the limit when 2× would exceed it. */
export function upscaleSize(width: number, height: number): { width: number; height: number } {
  const size = { width: width * UPSCALE_FACTOR, height: height * UPSCALE_FACTOR };
  if (size.width > SIZE_RANGE.max || size.height > SIZE_RANGE.max) {
    throw new UserError(
      'bad_input',
      `This image is ${width}×${height}: upscaled ×${UPSCALE_FACTOR} it would be ${size.width}×${size.height}, above the ${SIZE_RANGE.max}-pixel limit per side.`,
    );
  }
  return size;
}
