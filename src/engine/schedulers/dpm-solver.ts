/**
 * DPM-Solver++ 2M (diffusers DPMSolverMultistepScheduler, 0.25.1, algorithm_type "dpmsolver++", solver_order 2),
 * optionally on Karras σ. The model output is turned into a data estimate x₀; each step solves the diffusion ODE
 * in λ = log(α/σ) exactly for a linear-in-λ x₀, using the current and the previous estimate (first order on the
 * first step, and on the last when lower_order_final applies to fewer than 15 steps).
 */
import { alphasCumprod } from './betas.js';
import { configError, rejectEnabled, requireOneOf, resolveConfig, type ResolvedConfig } from './config.js';
import type { SamplerName, Scheduler, SchedulerConfig } from './scheduler.js';
import { karrasSigmas, logSigmasFloat32, sigmaToTimestep, sigmasAtTimesteps, trainingSigmas } from './sigmas.js';
import { dpmSolverTimesteps } from './spacing.js';
import { roundHalfEven } from './numpy-compat.js';
import { checkSameLength, checkStepCount, checkStepOrder } from './step-utils.js';

const CLASS_NAME = 'DPMSolverMultistepScheduler';

const DEFAULTS = {
  num_train_timesteps: 1000,
  beta_start: 0.0001,
  beta_end: 0.02,
  beta_schedule: 'linear',
  trained_betas: null,
  solver_order: 2,
  prediction_type: 'epsilon',
  thresholding: false,
  dynamic_thresholding_ratio: 0.995,
  sample_max_value: 1.0,
  algorithm_type: 'dpmsolver++',
  solver_type: 'midpoint',
  lower_order_final: true,
  euler_at_final: false,
  use_karras_sigmas: false,
  use_lu_lambdas: false,
  lambda_min_clipped: -Infinity,
  variance_type: null,
  timestep_spacing: 'linspace',
  steps_offset: 0,
};

/** Solver types of other multistep schedulers that diffusers maps to "midpoint" when converting their configs. */
const MIDPOINT_ALIASES = ['logrho', 'bh1', 'bh2'];

/** lower_order_final only applies below this many steps (diffusers' stability heuristic). */
const LOWER_ORDER_FINAL_BELOW = 15;

const fround = Math.fround;

export class DpmSolverMultistepScheduler implements Scheduler {
  readonly name: SamplerName;
  readonly config: Readonly<ResolvedConfig<typeof DEFAULTS>>;
  readonly timestepDtype = 'int64';
  readonly initNoiseSigma = 1;
  timesteps: readonly number[] = [];
  sigmas: Float32Array | undefined;
  private readonly alphasCumprod: Float32Array;
  /** x₀ estimate of the previous step (undefined before the first). */
  private previousEstimate: Float32Array | undefined;
  private stepsTaken = 0;

  /** The sampler's name fixes the algorithm (2M, DPM-Solver++); `karras` picks Karras σ. */
  constructor(config: SchedulerConfig, karras: boolean) {
    const resolved = resolveConfig(CLASS_NAME, DEFAULTS, config, {
      algorithm_type: 'dpmsolver++',
      solver_order: 2,
      use_karras_sigmas: karras,
    });
    if (MIDPOINT_ALIASES.includes(resolved.solver_type)) resolved.solver_type = 'midpoint';
    requireOneOf(CLASS_NAME, 'solver_type', resolved.solver_type, ['midpoint', 'heun']);
    requireOneOf(CLASS_NAME, 'prediction_type', resolved.prediction_type, ['epsilon', 'v_prediction', 'sample']);
    rejectEnabled(CLASS_NAME, resolved, 'thresholding');
    rejectEnabled(CLASS_NAME, resolved, 'use_lu_lambdas');
    if (resolved.variance_type !== null) throw configError(CLASS_NAME, 'a learned variance_type is not supported');
    this.config = resolved;
    this.name = karras ? 'dpm++2m-karras' : 'dpm++2m';
    this.alphasCumprod = alphasCumprod(CLASS_NAME, resolved);
  }

  setTimesteps(numInferenceSteps: number): void {
    checkStepCount(this.name, numInferenceSteps, this.config.num_train_timesteps);
    const table = trainingSigmas(this.alphasCumprod);
    if (this.config.use_karras_sigmas) {
      // Karras σ span the whole training range, whatever the spacing, and are mapped back to whole timesteps.
      const sigmas = karrasSigmas(table[0], table[table.length - 1], numInferenceSteps);
      const logSigmas = logSigmasFloat32(table);
      this.timesteps = sigmas.map((sigma) => roundHalfEven(sigmaToTimestep(sigma, logSigmas)));
      // 0.25.1 ends on the last σ again rather than on 0, so the final step changes nothing.
      this.sigmas = Float32Array.from([...sigmas, sigmas[sigmas.length - 1]]);
    } else {
      const lastTimestep = this.config.num_train_timesteps - this.clippedTimesteps();
      this.timesteps = dpmSolverTimesteps(CLASS_NAME, this.config, numInferenceSteps, lastTimestep);
      // 0.25.1 ends on σ(t = 0), not on 0: the result keeps that last bit of noise.
      this.sigmas = Float32Array.from([...sigmasAtTimesteps(this.timesteps, table), table[0]]);
    }
    this.previousEstimate = undefined;
    this.stepsTaken = 0;
  }

  /** Image-to-image: diffusers starts at step_index `index` with no earlier estimate (a first-order step). */
  beginAt(index: number): number {
    this.previousEstimate = undefined;
    this.stepsTaken = index;
    return index;
  }

  scaleModelInput(sample: Float32Array): Float32Array {
    return sample;
  }

  step(modelOutput: Float32Array, index: number, sample: Float32Array): Float32Array {
    checkSameLength(this.name, modelOutput, sample);
    checkStepOrder(this.name, index, this.stepsTaken, this.timesteps.length);
    this.stepsTaken++;
    const sigmas = this.sigmas as Float32Array;
    const estimate = this.dataEstimate(modelOutput, sample, sigmas[index]);
    const previous = this.previousEstimate;
    this.previousEstimate = estimate;

    const isLast = index === this.timesteps.length - 1;
    const lowerOrderFinal =
      isLast && (this.config.euler_at_final || (this.config.lower_order_final && this.timesteps.length < LOWER_ORDER_FINAL_BELOW));
    const target = logSnr(sigmas[index + 1]);
    const current = logSnr(sigmas[index]);
    const h = fround(target.lambda - current.lambda);
    // A zero-length step (Karras' repeated last σ) leaves the sample as it is; the Heun form would give 0/0.
    if (h === 0) return sample.slice();

    const sampleScale = fround(target.sigma / current.sigma);
    const expStep = fround(fround(Math.exp(-h)) - 1);
    const estimateScale = fround(target.alpha * expStep);
    if (previous === undefined || lowerOrderFinal) {
      return sample.map((x, i) => sampleScale * x - estimateScale * estimate[i]);
    }
    // Second order: a finite difference of the last two estimates in λ, D1 = (x₀ − x₀_prev)·h/h_prev.
    const before = logSnr(sigmas[index - 1]);
    const ratio = fround(fround(current.lambda - before.lambda) / h);
    const differenceScale = fround(1 / ratio) * this.differenceWeight(target.alpha, expStep, h);
    return sample.map((x, i) => {
      const d0 = estimate[i];
      return sampleScale * x - estimateScale * d0 + differenceScale * (d0 - previous[i]);
    });
  }

  /** The weight of D1: −½·α_t(e^{−h} − 1) for the midpoint rule, α_t((e^{−h} − 1)/h + 1) for Heun's. */
  private differenceWeight(alpha: number, expStep: number, h: number): number {
    return this.config.solver_type === 'heun'
      ? fround(alpha * fround(fround(expStep / h) + 1))
      : -0.5 * fround(alpha * expStep);
  }

  /** x₀ from the model output at noise level σ (DPM-Solver++ works on data predictions). */
  private dataEstimate(modelOutput: Float32Array, sample: Float32Array, sigma: number): Float32Array {
    const { alpha, sigma: noise } = logSnr(sigma);
    switch (this.config.prediction_type) {
      case 'epsilon':
        return sample.map((x, i) => (x - noise * modelOutput[i]) / alpha);
      case 'v_prediction':
        return sample.map((x, i) => alpha * x - noise * modelOutput[i]);
      default:
        return modelOutput.slice();
    }
  }

  /**
   * How many of the noisiest timesteps lambda_min_clipped removes: those whose λ = log α − log σ falls below
   * it (none for the default −∞).
   */
  private clippedTimesteps(): number {
    const threshold = this.config.lambda_min_clipped;
    let clipped = 0;
    for (const alphaBar of this.alphasCumprod) {
      const alpha = fround(Math.sqrt(alphaBar));
      const sigma = fround(Math.sqrt(fround(1 - alphaBar)));
      const lambda = fround(fround(Math.log(alpha)) - fround(Math.log(sigma)));
      if (lambda < threshold) clipped++;
    }
    return clipped;
  }
}

/**
 * The VP quantities of a noise level σ: α = 1/√(σ² + 1), σ_t = σ·α and λ = log α − log σ_t, in float32 like
 * diffusers' 0-d tensors.
 */
function logSnr(sigma: number): { alpha: number; sigma: number; lambda: number } {
  const alpha = fround(1 / fround(Math.sqrt(fround(fround(sigma * sigma) + 1))));
  const sigmaT = fround(sigma * alpha);
  return { alpha, sigma: sigmaT, lambda: fround(fround(Math.log(alpha)) - fround(Math.log(sigmaT))) };
}
