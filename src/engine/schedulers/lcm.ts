/**
 * LCM (diffusers LCMScheduler, 0.25.1): a latent consistency model jumps to its denoised estimate
 * c_skip·x + c_out·x₀ at every step, then re-noises it to the next timestep with fresh noise (none after the
 * last step). Its timesteps are a subset of its own distillation grid, not the usual spacing.
 */
import { AlphaSchedule, clipOriginal, noiseEstimates } from './alpha-schedule.js';
import { configError, rejectEnabled, resolveConfig, type ResolvedConfig } from './config.js';
import { linspace } from './numpy-compat.js';
import type { Scheduler, SchedulerConfig, StepContext } from './scheduler.js';
import { checkSameLength, checkStepCount, checkStepIndex, drawRowNoise } from './step-utils.js';

const CLASS_NAME = 'LCMScheduler';

const DEFAULTS = {
  num_train_timesteps: 1000,
  beta_start: 0.00085,
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  trained_betas: null,
  original_inference_steps: 50,
  clip_sample: false,
  clip_sample_range: 1.0,
  set_alpha_to_one: true,
  steps_offset: 0,
  prediction_type: 'epsilon',
  thresholding: false,
  dynamic_thresholding_ratio: 0.995,
  sample_max_value: 1.0,
  timestep_spacing: 'leading',
  timestep_scaling: 10.0,
  rescale_betas_zero_snr: false,
};

/** σ_data of the consistency-model boundary condition. */
const SIGMA_DATA = 0.5;
const SIGMA_DATA_SQUARED = SIGMA_DATA ** 2;

const fround = Math.fround;

export class LcmScheduler implements Scheduler {
  readonly name = 'lcm';
  readonly config: Readonly<ResolvedConfig<typeof DEFAULTS>>;
  readonly timestepDtype = 'int64';
  readonly sigmas = undefined;
  readonly initNoiseSigma = 1;
  timesteps: readonly number[] = [];
  private readonly alphas: AlphaSchedule;

  constructor(config: SchedulerConfig) {
    this.config = resolveConfig(CLASS_NAME, DEFAULTS, config);
    rejectEnabled(CLASS_NAME, this.config, 'thresholding');
    noiseEstimates(CLASS_NAME, this.config.prediction_type, 0.5); // rejects an unknown prediction type now
    const { original_inference_steps: original, num_train_timesteps: T } = this.config;
    if (original < 1 || original > T) {
      throw configError(CLASS_NAME, `original_inference_steps must be from 1 to num_train_timesteps (${T}), got ${original}`);
    }
    this.alphas = new AlphaSchedule(CLASS_NAME, this.config, this.config.rescale_betas_zero_snr);
  }

  /**
   * The distillation grid is k − 1, 2k − 1, …, T − 1 with k = T // original_inference_steps (19 … 999); n steps
   * take every (len/n)-th of it from the top: 4 steps → 999, 759, 499, 259.
   */
  setTimesteps(numInferenceSteps: number): void {
    const { num_train_timesteps: T, original_inference_steps: original } = this.config;
    checkStepCount(this.name, numInferenceSteps, original);
    const k = Math.floor(T / original);
    const grid = Array.from({ length: original }, (_, i) => (original - i) * k - 1);
    this.timesteps = linspace(0, original, numInferenceSteps, false).map((position) => grid[Math.floor(position)]);
  }

  scaleModelInput(sample: Float32Array): Float32Array {
    return sample;
  }

  step(modelOutput: Float32Array, index: number, sample: Float32Array, ctx: StepContext): Float32Array {
    checkSameLength(this.name, modelOutput, sample);
    checkStepIndex(this.name, index, this.timesteps.length);
    const t = this.timesteps[index];
    const estimates = noiseEstimates(CLASS_NAME, this.config.prediction_type, this.alphas.at(t));
    const clip = clipOriginal(this.config.clip_sample, this.config.clip_sample_range);
    const { skip, out } = boundaryScalings(t, this.config.timestep_scaling);
    const denoised = sample.map((x, i) => out * clip(estimates.original(x, modelOutput[i])) + skip * x);
    if (index === this.timesteps.length - 1) return denoised;

    const alphaProdPrev = this.alphas.at(this.timesteps[index + 1]);
    const signalScale = fround(Math.sqrt(alphaProdPrev));
    const noiseScale = fround(Math.sqrt(fround(1 - alphaProdPrev)));
    const noise = drawRowNoise(this.name, () => ctx.randn(), sample.length);
    return denoised.map((d, i) => signalScale * d + noiseScale * noise[i % noise.length]);
  }
}

/**
 * c_skip = σ_d²/((s·t)² + σ_d²) and c_out = s·t/√((s·t)² + σ_d²) with s = timestep_scaling: near t = 0 the
 * step returns x itself, elsewhere essentially x₀. float32 like the torch scalars in diffusers.
 */
function boundaryScalings(t: number, scaling: number): { skip: number; out: number } {
  const scaled = fround(t * scaling);
  const denominator = fround(fround(scaled * scaled) + SIGMA_DATA_SQUARED);
  return { skip: fround(SIGMA_DATA_SQUARED / denominator), out: fround(scaled / fround(Math.sqrt(denominator))) };
}
