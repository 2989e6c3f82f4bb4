/**
 * DDIM (diffusers DDIMScheduler, 0.25.1) with η = 0, the deterministic sampler pipelines run by default:
 * x_prev = √ᾱ_prev·x₀ + √(1 − ᾱ_prev)·ε. It draws no noise.
 */
import { AlphaSchedule, clipOriginal, noiseEstimates } from './alpha-schedule.js';
import { rejectEnabled, resolveConfig, type ResolvedConfig } from './config.js';
import type { Scheduler, SchedulerConfig } from './scheduler.js';
import { spacedTimesteps } from './spacing.js';
import { checkSameLength, checkStepCount, checkStepIndex } from './step-utils.js';

const CLASS_NAME = 'DDIMScheduler';

const DEFAULTS = {
  num_train_timesteps: 1000,
  beta_start: 0.0001,
  beta_end: 0.02,
  beta_schedule: 'linear',
  trained_betas: null,
  clip_sample: true,
  set_alpha_to_one: true,
  steps_offset: 0,
  prediction_type: 'epsilon',
  thresholding: false,
  dynamic_thresholding_ratio: 0.995,
  clip_sample_range: 1.0,
  sample_max_value: 1.0,
  timestep_spacing: 'leading',
  rescale_betas_zero_snr: false,
};

const fround = Math.fround;

export class DdimScheduler implements Scheduler {
  readonly name = 'ddim';
  readonly config: Readonly<ResolvedConfig<typeof DEFAULTS>>;
  readonly timestepDtype = 'int64';
  readonly sigmas = undefined;
  readonly initNoiseSigma = 1;
  timesteps: readonly number[] = [];
  private readonly alphas: AlphaSchedule;
  private stride = 0;

  constructor(config: SchedulerConfig) {
    this.config = resolveConfig(CLASS_NAME, DEFAULTS, config);
    rejectEnabled(CLASS_NAME, this.config, 'thresholding');
    noiseEstimates(CLASS_NAME, this.config.prediction_type, 0.5); // rejects an unknown prediction type now
    this.alphas = new AlphaSchedule(CLASS_NAME, this.config, this.config.rescale_betas_zero_snr);
  }

  setTimesteps(numInferenceSteps: number): void {
    checkStepCount(this.name, numInferenceSteps, this.config.num_train_timesteps);
    this.timesteps = spacedTimesteps(CLASS_NAME, this.config, numInferenceSteps, true);
    // Each step goes back one stride T // n, whatever the spacing (as diffusers does).
    this.stride = Math.floor(this.config.num_train_timesteps / numInferenceSteps);
  }

  scaleModelInput(sample: Float32Array): Float32Array {
    return sample;
  }

  step(modelOutput: Float32Array, index: number, sample: Float32Array): Float32Array {
    checkSameLength(this.name, modelOutput, sample);
    checkStepIndex(this.name, index, this.timesteps.length);
    const t = this.timesteps[index];
    const alphaProdPrev = this.alphas.at(t - this.stride);
    const estimates = noiseEstimates(CLASS_NAME, this.config.prediction_type, this.alphas.at(t));
    const clip = clipOriginal(this.config.clip_sample, this.config.clip_sample_range);
    const sqrtAlphaPrev = fround(Math.sqrt(alphaProdPrev));
    const directionScale = fround(Math.sqrt(fround(1 - alphaProdPrev)));
    return sample.map((x, i) => {
      const m = modelOutput[i];
      const original = estimates.original(x, m);
      return sqrtAlphaPrev * clip(original) + directionScale * estimates.epsilon(x, m, original);
    });
  }
}
