/**
 * Euler (diffusers EulerDiscreteScheduler, 0.25.1): one explicit Euler step of the probability-flow ODE in σ,
 * x ← x + (x − x₀)/σ · (σ_next − σ). Stochastic churn (s_churn) is not offered: diffusers' default is 0.
 */
import { configError, optionalNumber, requireOneOf, resolveConfig, type ResolvedConfig } from './config.js';
import type { SchedulerConfig, StepContext } from './scheduler.js';
import { SigmaScheduler } from './sigma-schedule.js';
import { checkSameLength } from './step-utils.js';

const CLASS_NAME = 'EulerDiscreteScheduler';

const DEFAULTS = {
  num_train_timesteps: 1000,
  beta_start: 0.0001,
  beta_end: 0.02,
  beta_schedule: 'linear',
  trained_betas: null,
  prediction_type: 'epsilon',
  interpolation_type: 'linear',
  use_karras_sigmas: false,
  sigma_min: null,
  sigma_max: null,
  timestep_spacing: 'linspace',
  timestep_type: 'discrete',
  steps_offset: 0,
  rescale_betas_zero_snr: false,
};

export class EulerScheduler extends SigmaScheduler<ResolvedConfig<typeof DEFAULTS>> {
  readonly name = 'euler';

  constructor(config: SchedulerConfig) {
    const resolved = resolveConfig(CLASS_NAME, DEFAULTS, config);
    // "log_linear" σ and continuous v-prediction timesteps are niche diffusers options reprompt leaves out.
    requireOneOf(CLASS_NAME, 'interpolation_type', resolved.interpolation_type, ['linear']);
    if (resolved.timestep_type === 'continuous' && resolved.prediction_type === 'v_prediction') {
      throw configError(CLASS_NAME, 'timestep_type "continuous" with v_prediction is not supported');
    }
    const karras = resolved.use_karras_sigmas
      ? { sigmaMin: optionalNumber(CLASS_NAME, resolved, 'sigma_min'), sigmaMax: optionalNumber(CLASS_NAME, resolved, 'sigma_max') }
      : undefined;
    super(CLASS_NAME, resolved, { karras, rescaleZeroSnr: resolved.rescale_betas_zero_snr });
  }

  step(modelOutput: Float32Array, index: number, sample: Float32Array, ctx: StepContext): Float32Array {
    checkSameLength(this.name, modelOutput, sample);
    const sigma = this.sigmaAt(index);
    const dt = this.nextSigma(index) - sigma;
    const original = this.estimateOriginal(index);
    // diffusers draws churn noise on every step and, with s_churn = 0, throws it away. Drawing it here too keeps
    // the generator stream where diffusers has it.
    ctx.randn();
    return sample.map((x, i) => x + ((x - original(x, modelOutput[i])) / sigma) * dt);
  }
}
