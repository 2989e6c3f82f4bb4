/**
 * Euler ancestral (diffusers EulerAncestralDiscreteScheduler, 0.25.1): an Euler step down to σ_down, then fresh
 * noise of size σ_up, where σ_down² + σ_up² = σ_next² (so each step forgets part of the previous noise).
 */
import { configError, resolveConfig, type ResolvedConfig } from './config.js';
import type { SchedulerConfig, StepContext } from './scheduler.js';
import { SigmaScheduler } from './sigma-schedule.js';
import { checkSameLength, drawRowNoise } from './step-utils.js';

const CLASS_NAME = 'EulerAncestralDiscreteScheduler';

const DEFAULTS = {
  num_train_timesteps: 1000,
  beta_start: 0.0001,
  beta_end: 0.02,
  beta_schedule: 'linear',
  trained_betas: null,
  prediction_type: 'epsilon',
  timestep_spacing: 'linspace',
  steps_offset: 0,
  rescale_betas_zero_snr: false,
};

const fround = Math.fround;

export class EulerAncestralScheduler extends SigmaScheduler<ResolvedConfig<typeof DEFAULTS>> {
  readonly name = 'euler-a';

  constructor(config: SchedulerConfig) {
    const resolved = resolveConfig(CLASS_NAME, DEFAULTS, config);
    if (resolved.prediction_type === 'sample') {
      throw configError(CLASS_NAME, 'prediction_type "sample" is not supported; expected epsilon or v_prediction');
    }
    super(CLASS_NAME, resolved, { rescaleZeroSnr: resolved.rescale_betas_zero_snr });
  }

  step(modelOutput: Float32Array, index: number, sample: Float32Array, ctx: StepContext): Float32Array {
    checkSameLength(this.name, modelOutput, sample);
    const sigma = this.sigmaAt(index);
    const { down, up } = ancestralSplit(sigma, this.nextSigma(index));
    const dt = down - sigma;
    const original = this.estimateOriginal(index);
    const noise = drawRowNoise(this.name, () => ctx.randn(), sample.length);
    return sample.map((x, i) => {
      const derivative = (x - original(x, modelOutput[i])) / sigma;
      return x + derivative * dt + noise[i % noise.length] * up;
    });
  }
}

/** σ_up = √(σ_to²(σ_from² − σ_to²)/σ_from²), σ_down = √(σ_to² − σ_up²), in float32 like diffusers' tensors. */
function ancestralSplit(from: number, to: number): { down: number; up: number } {
  const from2 = fround(from * from);
  const to2 = fround(to * to);
  const up = fround(Math.sqrt(fround(fround(to2 * fround(from2 - to2)) / from2)));
  const down = fround(Math.sqrt(fround(to2 - fround(up * up))));
  return { down, up };
}
