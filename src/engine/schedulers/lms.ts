/**
 * LMS (diffusers LMSDiscreteScheduler, 0.25.1): a linear multistep method of order up to 4 in σ. The step adds
 * Σ_k c_k·d_k over the last derivatives d_k = (x − x₀)/σ, where c_k integrates the Lagrange basis polynomial of
 * d_k over [σ_i, σ_{i+1}].
 */
import { resolveConfig, type ResolvedConfig } from './config.js';
import type { SchedulerConfig } from './scheduler.js';
import { SigmaScheduler } from './sigma-schedule.js';
import { checkSameLength, checkStepOrder } from './step-utils.js';

const CLASS_NAME = 'LMSDiscreteScheduler';

/** diffusers' default `order` argument of step(), which pipelines never change. */
const MAX_ORDER = 4;

const DEFAULTS = {
  num_train_timesteps: 1000,
  beta_start: 0.0001,
  beta_end: 0.02,
  beta_schedule: 'linear',
  trained_betas: null,
  use_karras_sigmas: false,
  prediction_type: 'epsilon',
  timestep_spacing: 'linspace',
  steps_offset: 0,
};

export class LmsScheduler extends SigmaScheduler<ResolvedConfig<typeof DEFAULTS>> {
  readonly name = 'lms';
  /** The most recent derivatives (x − x₀)/σ, newest last. */
  private derivatives: Float32Array[] = [];
  private stepsTaken = 0;

  constructor(config: SchedulerConfig) {
    const resolved = resolveConfig(CLASS_NAME, DEFAULTS, config);
    // Karras σ, when asked for, span the spaced timesteps' own σ range.
    super(CLASS_NAME, resolved, { karras: resolved.use_karras_sigmas ? {} : undefined, rescaleZeroSnr: false });
  }

  override setTimesteps(numInferenceSteps: number): void {
    super.setTimesteps(numInferenceSteps);
    this.derivatives = [];
    this.stepsTaken = 0;
  }

  /** Image-to-image: diffusers starts at step_index `index` with no derivatives yet (the first step then uses one). */
  beginAt(index: number): number {
    this.derivatives = [];
    this.stepsTaken = index;
    return index;
  }

  step(modelOutput: Float32Array, index: number, sample: Float32Array): Float32Array {
    checkSameLength(this.name, modelOutput, sample);
    checkStepOrder(this.name, index, this.stepsTaken++, this.timesteps.length);
    const sigma = this.sigmaAt(index);
    const original = this.estimateOriginal(index);
    const derivative = Float32Array.from(sample, (x, i) => (x - original(x, modelOutput[i])) / sigma);
    this.derivatives = [...this.derivatives, derivative].slice(-MAX_ORDER);

    const order = Math.min(index + 1, MAX_ORDER);
    const sigmas = this.sigmas as Float32Array;
    const history = this.derivatives.slice(-order).reverse();
    const coefficients = history.map((_, k) => lmsCoefficient(sigmas, index, order, k));
    return sample.map((x, i) => {
      let increment = 0;
      // Fewer derivatives than the order only after beginAt: diffusers' zip() then uses the ones there are.
      for (let k = 0; k < history.length; k++) increment += coefficients[k] * history[k][i];
      return x + increment;
    });
  }
}

/** Gauss–Legendre nodes and weights on [−1, 1]: 4 points integrate polynomials up to degree 7 exactly. */
const GAUSS_NODES = [-0.8611363115940526, -0.3399810435848563, 0.3399810435848563, 0.8611363115940526];
const GAUSS_WEIGHTS = [0.3478548451374538, 0.6521451548625461, 0.6521451548625461, 0.3478548451374538];

/**
 * ∫ from σ_i to σ_{i+1} of the Lagrange basis polynomial that is 1 at σ_{i−k} and 0 at the other σ_{i−j}, j < order.
 * diffusers integrates it with scipy's adaptive quadrature; the polynomial has degree ≤ 3, so Gauss–Legendre
 * is exact and agrees to float32 rounding.
 */
function lmsCoefficient(sigmas: Float32Array, index: number, order: number, k: number): number {
  const basis = (tau: number): number => {
    let product = 1;
    for (let j = 0; j < order; j++) {
      if (j !== k) product *= (tau - sigmas[index - j]) / (sigmas[index - k] - sigmas[index - j]);
    }
    return product;
  };
  const from = sigmas[index];
  const to = sigmas[index + 1];
  const halfWidth = (to - from) / 2;
  const middle = (to + from) / 2;
  return halfWidth * GAUSS_NODES.reduce((sum, node, n) => sum + GAUSS_WEIGHTS[n] * basis(middle + halfWidth * node), 0);
}
