/**
 * What the ᾱ-parameterised samplers (PNDM, DDIM, LCM) share: ᾱ_t looked up by integer timestep, with a
 * stand-in for the "previous" ᾱ of the last step, and the x₀ / ε estimates for each prediction type.
 */
import { alphasCumprod, type BetaConfig } from './betas.js';
import { configError } from './config.js';

const fround = Math.fround;

export interface AlphaScheduleConfig extends BetaConfig {
  /** The ᾱ before timestep 0: 1, or ᾱ_0 itself (Stable Diffusion's configs say false). */
  set_alpha_to_one: boolean;
}

export class AlphaSchedule {
  private readonly cumprod: Float32Array;
  private readonly beforeFirst: number;

  /** `rescaleZeroSnr`: the class's rescale_betas_zero_snr, if it has that option. */
  constructor(className: string, config: AlphaScheduleConfig, rescaleZeroSnr: boolean) {
    this.cumprod = alphasCumprod(className, config, rescaleZeroSnr);
    this.beforeFirst = config.set_alpha_to_one ? 1 : this.cumprod[0];
  }

  /** ᾱ_t; a negative t (the step after the last) gets the final ᾱ. */
  at(t: number): number {
    return t >= 0 ? this.cumprod[t] : this.beforeFirst;
  }
}

/** Per-element estimates of the clean sample x₀ and of the noise ε from the sample x and model output m. */
export interface NoiseEstimates {
  original(x: number, m: number): number;
  /** ε consistent with a given x₀. */
  epsilon(x: number, m: number, original: number): number;
}

export const PREDICTION_TYPES = ['epsilon', 'v_prediction', 'sample'] as const;

/** x = √ᾱ·x₀ + √(1 − ᾱ)·ε, solved for whatever the model predicts (float32 scalars, like torch). */
export function noiseEstimates(className: string, predictionType: string, alphaProd: number): NoiseEstimates {
  const sqrtAlpha = fround(Math.sqrt(alphaProd));
  const sqrtBeta = fround(Math.sqrt(fround(1 - alphaProd)));
  switch (predictionType) {
    case 'epsilon':
      return { original: (x, m) => (x - sqrtBeta * m) / sqrtAlpha, epsilon: (_x, m) => m };
    case 'sample':
      return { original: (_x, m) => m, epsilon: (x, _m, x0) => (x - sqrtAlpha * x0) / sqrtBeta };
    case 'v_prediction':
      return { original: (x, m) => sqrtAlpha * x - sqrtBeta * m, epsilon: (x, m) => sqrtAlpha * m + sqrtBeta * x };
    default:
      throw configError(className, `prediction_type "${predictionType}" is not supported; expected ${PREDICTION_TYPES.join(', ')}`);
  }
}

/** clip_sample: x₀ clamped to ±clip_sample_range (off unless the config asks). */
export function clipOriginal(enabled: boolean, range: number): (x0: number) => number {
  return enabled ? (x0) => Math.min(Math.max(x0, -range), range) : (x0) => x0;
}
