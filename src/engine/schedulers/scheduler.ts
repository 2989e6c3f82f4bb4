/**
 * One interface for every sampler, with diffusers' semantics. A scheduler is configured from the model's
 * scheduler/scheduler_config.json (plus the overrides a sampler name implies), then `setTimesteps(n)`.
 *
 * Latents are flat Float32Arrays holding one or more rows of `latentSize` numbers each ([rows, C, h, w]);
 * every operation is elementwise per row, so a batch of prompts (Prompt-to-Prompt) steps together.
 */

/** Sampler names as users type them (CLI --scheduler, Discord `sampler`). */
export const SAMPLER_NAMES = ['pndm', 'ddim', 'euler', 'euler-a', 'dpm++2m', 'dpm++2m-karras', 'lms', 'lcm'] as const;
export type SamplerName = (typeof SAMPLER_NAMES)[number];

/** The keys of diffusers' scheduler_config.json that our schedulers read (all optional: class defaults apply). */
export interface SchedulerConfig {
  _class_name?: string;
  num_train_timesteps?: number;
  beta_start?: number;
  beta_end?: number;
  beta_schedule?: 'linear' | 'scaled_linear' | 'squaredcos_cap_v2' | string;
  trained_betas?: number[] | null;
  prediction_type?: 'epsilon' | 'v_prediction' | 'sample' | string;
  timestep_spacing?: 'leading' | 'trailing' | 'linspace' | string;
  steps_offset?: number;
  set_alpha_to_one?: boolean;
  clip_sample?: boolean;
  clip_sample_range?: number;
  skip_prk_steps?: boolean;
  use_karras_sigmas?: boolean;
  solver_order?: number;
  algorithm_type?: string;
  solver_type?: string;
  lower_order_final?: boolean;
  euler_at_final?: boolean;
  final_sigmas_type?: string;
  interpolation_type?: string;
  original_inference_steps?: number;
  timestep_scaling?: number;
  thresholding?: boolean;
  rescale_betas_zero_snr?: boolean;
  [key: string]: unknown;
}

/** Per-step context handed to `step`. */
export interface StepContext {
  /**
   * Draws standard normal noise for ONE latent ([1, C, h, w], `latentSize` numbers) from the job's seeded
   * generator, continuing the stream that drew the initial noise (diffusers passes its generator to step()).
   * Ancestral samplers broadcast the same noise to every row, so a batch row reproduces a single-row run.
   */
  randn(): Float32Array;
}

export interface Scheduler {
  readonly name: SamplerName;
  readonly config: Readonly<SchedulerConfig>;
  /** After setTimesteps: the timestep fed to the UNet for each UNet evaluation, in order (PNDM: n+1 entries). */
  readonly timesteps: readonly number[];
  /** torch dtype of the timesteps in diffusers (Euler/LMS use float). */
  readonly timestepDtype: 'int64' | 'float32';
  /** Karras/Euler-style sigmas when the scheduler has them (length = timesteps.length + 1), else undefined. */
  readonly sigmas: Float32Array | undefined;
  /** Multiply the initial noise by this. */
  readonly initNoiseSigma: number;
  setTimesteps(numInferenceSteps: number): void;
  /** Scales the UNet input for evaluation `index` (0-based into timesteps). Returns a new array or `sample` itself. */
  scaleModelInput(sample: Float32Array, index: number): Float32Array;
  /** One sampler step after UNet evaluation `index`; returns the new latents (prev_sample). */
  step(modelOutput: Float32Array, index: number, sample: Float32Array, ctx: StepContext): Float32Array;
  /**
   * Image-to-image: makes a set-up scheduler start at evaluation `index` as diffusers' img2img runs it, and returns
   * the index the loop starts from. Only samplers that keep state between steps have it; the others simply run
   * on from `index`.
   */
  beginAt?(index: number): number;
}
