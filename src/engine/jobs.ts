/**
 * Plain-data job descriptions that cross the worker boundary (postMessage) and are stored in the bot's
 * database. Everything here is JSON-safe: seeds are decimal strings because they may exceed 2^53.
 */
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
  /** Return the image's trajectory (the source state of later edits), recorded at no extra UNet cost. */
  returnTrajectory?: boolean;
}

export interface StepProgress {
  /** 1-based UNet evaluation just finished, and the total. */
  step: number;
  total: number;
  elapsedMs: number;
  /** Estimated time left, from the mean step time so far. */
  etaMs: number;
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
