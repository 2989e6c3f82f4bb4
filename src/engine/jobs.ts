/**
 * Plain-data job descriptions that cross the worker boundary (postMessage) and are stored in the bot's
 * database. Everything here is JSON-safe: seeds are decimal strings because they may exceed 2^53.
 */
import type { PreviewOptions, StepPreview } from './preview.js';
import type { SamplerName } from './schedulers/scheduler.js';
import type { Trajectory } from './trajectory.js';

export interface ImagineParams {
  prompt: string;
  /** '' for none. */
  negativePrompt: string;
  /** Decimal string, 0 ≤ seed < 2^64 (torch uses the low 64 bits; the MT19937 state uses the low 32). */
  seed: string;
  steps: number;
  /** Classifier-free guidance scale, any real number: <1 and negative values are applied, not ignored. */
  guidance: number;
  width: number;
  height: number;
  /** undefined = the model's own scheduler (scheduler_config.json). */
  sampler?: SamplerName;
}

export interface ImagineJob {
  kind: 'imagine';
  params: ImagineParams;
  /** Also render the per-token cross-attention heat-map grid. */
  attentionMap?: boolean;
  /** Return the final latents (before VAE scaling) as well. */
  returnLatents?: boolean;
  /** Attach live previews to some progress reports (see ./preview.ts). Not part of what the job draws. */
  preview?: PreviewOptions;
  /** Return the image's trajectory (the source state of later edits), recorded at no extra UNet cost. */
  returnTrajectory?: boolean;
}

export interface StepProgress {
  /** 1-based sampler step just finished, and the steps asked for (PNDM's extra first UNet call is not a step). */
  step: number;
  total: number;
  elapsedMs: number;
  /** Estimated time left, from the mean UNet call time so far. */
  etaMs: number;
  /** The picture forming (x₀ through the latent→RGB approximation), on the steps chosen by the job's preview options. */
  preview?: StepPreview;
}

export interface Timings {
  totalMs: number;
  textEncoderMs: number;
  /** Sum of UNet session.run() times, and their count. */
  unetMs: number;
  unetCalls: number;
  vaeMs: number;
  /** Time per step spent outside ONNX Runtime (scheduler, CFG, controls, copies). */
  hostMsPerStep: number;
}

export interface ImageOutput {
  /** PNG with an A1111-style `parameters` text chunk. */
  png: Uint8Array;
  width: number;
  height: number;
}

export interface ImagineResult {
  kind: 'imagine';
  params: ImagineParams & { sampler: SamplerName };
  image: ImageOutput;
  /** The prompt's tokens that did not fit in 77 (empty when none). */
  truncated: string[];
  latents?: { data: Float32Array; shape: number[] };
  attentionMap?: ImageOutput;
  /** With returnTrajectory: the latents at the start and after every step. */
  trajectory?: Trajectory;
  timings: Timings;
}

/** A photo (any image file) → its preprocessed image, z₀ and DDIM-inversion trajectory (inversion.ts). */
export interface InvertJob {
  kind: 'invert';
  /** The file's bytes (PNG, JPEG, WebP, …); photo.ts checks and preprocesses it. */
  image: Uint8Array;
  /** What the image shows: the edit's source prompt. */
  prompt: string;
  steps: number;
  /** Output size; default: the image's aspect at about `maxArea` pixels (photo.ts). */
  width?: number;
  height?: number;
  maxArea?: number;
}

export interface InvertResult {
  kind: 'invert';
  /** The preprocessed photo (the image the edit starts from), without generation parameters. */
  photo: ImageOutput;
  /** Posterior mean × scaling factor, [1, C, h, w]. */
  z0: { data: Float32Array; shape: [1, number, number, number] };
  /** [steps + 1, C, h, w], z*_T first and z₀ last: the photo's source trajectory (trajectory.ts). */
  trajectory: Trajectory;
  /** The DDIM timesteps an edit of it denoises with. */
  timesteps: number[];
  truncated: string[];
  timings: Timings;
}

/**
 * Image-to-image (img2img.ts): Vary (same size, new seed) and Upscale (2× size, low strength) of a finished image.
 * The image is resized (centre-cropped if the aspect differs) to params.width × params.height, encoded, noised to
 * `strength`, and denoised with `params`.
 */
export interface Img2ImgJob {
  kind: 'img2img';
  params: ImagineParams;
  /** The source image file (e.g. the PNG of an earlier job). */
  image: Uint8Array;
  /** 0 keeps the image, 1 redraws it from (almost) pure noise. */
  strength: number;
}

export interface Img2ImgResult extends Omit<ImagineResult, 'kind' | 'attentionMap'> {
  kind: 'img2img';
  strength: number;
}

/** N candidates with seeds seed, seed+1, … drawn as one UNet batch (grid.ts); each equals a single imagine. */
export interface ImagineGridJob {
  kind: 'imagine-grid';
  params: ImagineParams;
  count: number;
  returnLatents?: boolean;
}

export interface ImagineGridResult {
  kind: 'imagine-grid';
  /** One per candidate, in seed order; each carries its own seed in `params`. */
  candidates: ImagineResult[];
  timings: Timings;
}
