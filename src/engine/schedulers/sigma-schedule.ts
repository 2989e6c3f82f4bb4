/**
 * What the σ-parameterised samplers (Euler, Euler ancestral, LMS) share: the σ of each step, the scaled UNet
 * input x/√(σ² + 1), the initial noise scale and the denoised estimate x₀ for each prediction type.
 */
import { alphasCumprod, type BetaConfig } from './betas.js';
import { configError } from './config.js';
import type { SamplerName, Scheduler, StepContext } from './scheduler.js';
import { karrasSigmas, logSigmasFloat32, sigmaToTimestep, sigmasAtTimesteps, trainingSigmas } from './sigmas.js';
import { spacedTimesteps, type SpacingConfig } from './spacing.js';
import { checkStepCount, checkStepIndex } from './step-utils.js';

const fround = Math.fround;

export interface SigmaScheduleConfig extends BetaConfig, SpacingConfig {
  prediction_type: string;
}

interface SigmaSchedule {
  /** Float timesteps for the UNet, one per step. */
  timesteps: number[];
  /** σ for each step plus a final 0. */
  sigmas: Float32Array;
}

/** Overrides of the Karras σ range (EulerDiscrete's sigma_min / sigma_max); absent = the schedule's own ends. */
export interface KarrasRange {
  sigmaMin?: number | null;
  sigmaMax?: number | null;
}

export interface SigmaSchedulerOptions {
  /** Set when the schedule uses Karras σ. */
  karras?: KarrasRange;
  /** The class's rescale_betas_zero_snr, if it has that option. */
  rescaleZeroSnr: boolean;
}

/**
 * The part of Euler, Euler a and LMS that only depends on σ. Subclasses write `step`; σ of step i is
 * `sigmas[i]`, and `sigmas[i + 1]` is where the step lands (0 after the last).
 */
export abstract class SigmaScheduler<C extends SigmaScheduleConfig> implements Scheduler {
  abstract readonly name: SamplerName;
  readonly timestepDtype = 'float32';
  timesteps: readonly number[] = [];
  sigmas: Float32Array | undefined;
  initNoiseSigma = 1;
  private readonly table: Float32Array;
  private readonly karras: KarrasRange | undefined;

  protected constructor(
    protected readonly className: string,
    readonly config: Readonly<C>,
    options: SigmaSchedulerOptions,
  ) {
    originalSampleEstimate(className, config.prediction_type, 1); // rejects an unknown prediction type now
    this.table = sigmaTrainingTable(className, config, options.rescaleZeroSnr);
    this.karras = options.karras;
  }

  setTimesteps(numInferenceSteps: number): void {
    checkStepCount(this.name, numInferenceSteps, this.config.num_train_timesteps);
    const schedule = buildSigmaSchedule(this.className, this.config, this.table, numInferenceSteps, this.karras);
    this.timesteps = schedule.timesteps;
    this.sigmas = schedule.sigmas;
    this.initNoiseSigma = sigmaInitNoise(schedule.sigmas, this.config.timestep_spacing);
  }

  scaleModelInput(sample: Float32Array, index: number): Float32Array {
    return scaleBySigma(sample, this.sigmaAt(index));
  }

  abstract step(modelOutput: Float32Array, index: number, sample: Float32Array, ctx: StepContext): Float32Array;

  /** σ of step `index` (checked), and σ of the step after it. */
  protected sigmaAt(index: number): number {
    checkStepIndex(this.name, index, this.timesteps.length);
    return (this.sigmas as Float32Array)[index];
  }

  protected nextSigma(index: number): number {
    return (this.sigmas as Float32Array)[index + 1];
  }

  protected estimateOriginal(index: number): OriginalEstimate {
    return originalSampleEstimate(this.className, this.config.prediction_type, this.sigmaAt(index));
  }
}

/**
 * The training σ table of a σ-parameterised scheduler. Zero-SNR rescaling sets the last ᾱ to 2⁻²⁴ rather
 * than 0, whose σ would be infinite.
 */
function sigmaTrainingTable(className: string, config: SigmaScheduleConfig, rescaleZeroSnr: boolean): Float32Array {
  const table = alphasCumprod(className, config, rescaleZeroSnr);
  if (rescaleZeroSnr) table[table.length - 1] = 2 ** -24;
  return trainingSigmas(table);
}

/**
 * σ at the spaced timesteps (interpolated in float64, stored in float32), or, with Karras σ, a Karras ramp over
 * that σ range whose timesteps are mapped back from σ (fractional, not rounded).
 */
function buildSigmaSchedule(
  className: string,
  config: SigmaScheduleConfig,
  table: Float32Array,
  n: number,
  karras?: KarrasRange,
): SigmaSchedule {
  let timesteps = spacedTimesteps(className, config, n, false);
  let sigmas = sigmasAtTimesteps(timesteps, table);
  if (karras) {
    const sigmaMin = karras.sigmaMin ?? sigmas[sigmas.length - 1];
    const sigmaMax = karras.sigmaMax ?? sigmas[0];
    sigmas = karrasSigmas(sigmaMin, sigmaMax, n);
    const logSigmas = logSigmasFloat32(table);
    timesteps = sigmas.map((sigma) => fround(sigmaToTimestep(sigma, logSigmas)));
  }
  return { timesteps, sigmas: Float32Array.from([...sigmas, 0]) };
}

/**
 * The initial noise scale as diffusers picks it: σ_max for "linspace"/"trailing", √(σ_max² + 1) for "leading"
 * (float32, like the torch scalar diffusers returns).
 */
function sigmaInitNoise(sigmas: Float32Array, spacing: string): number {
  const sigmaMax = sigmas.reduce((a, b) => Math.max(a, b), 0);
  return spacing === 'leading' ? inputScaleDivisor(sigmaMax) : sigmaMax;
}

/** x / √(σ² + 1): the UNet sees unit-variance input whatever the noise level. */
function scaleBySigma(sample: Float32Array, sigma: number): Float32Array {
  const divisor = inputScaleDivisor(sigma);
  return sample.map((x) => x / divisor);
}

function inputScaleDivisor(sigma: number): number {
  return fround(Math.sqrt(fround(fround(sigma * sigma) + 1)));
}

/** x₀ from the sample x and the model output m at noise level σ, per element. */
export type OriginalEstimate = (x: number, m: number) => number;

function originalSampleEstimate(className: string, predictionType: string, sigma: number): OriginalEstimate {
  switch (predictionType) {
    case 'epsilon':
      return (x, m) => x - sigma * m;
    case 'v_prediction': {
      const outputScale = fround(-sigma / inputScaleDivisor(sigma));
      const sampleScale = fround(fround(sigma * sigma) + 1);
      return (x, m) => m * outputScale + x / sampleScale;
    }
    case 'sample':
      return (_x, m) => m;
    default:
      throw configError(className, `prediction_type "${predictionType}" is not supported; expected epsilon, v_prediction or sample`);
  }
}
