/**
 * PNDM as Stable Diffusion runs it (diffusers PNDMScheduler, 0.25.1, skip_prk_steps): pseudo linear multistep
 * (PLMS). The first step is taken twice, so n steps cost n + 1 UNet evaluations and the timesteps read
 * 951, 901, 901, 851, …: evaluation 0 takes a plain step from x; evaluation 1 goes back to x and redoes that
 * step with the mean of both outputs; later steps extrapolate from up to 4 earlier outputs (Adams–Bashforth).
 * The Runge–Kutta warm-up of the paper (skip_prk_steps false) is not implemented: reprompt always skips it.
 */
import { AlphaSchedule } from './alpha-schedule.js';
import { configError, resolveConfig, type ResolvedConfig } from './config.js';
import type { Scheduler, SchedulerConfig } from './scheduler.js';
import { spacedTimesteps } from './spacing.js';
import { checkSameLength, checkStepCount, checkStepOrder } from './step-utils.js';

const CLASS_NAME = 'PNDMScheduler';

const DEFAULTS = {
  num_train_timesteps: 1000,
  beta_start: 0.0001,
  beta_end: 0.02,
  beta_schedule: 'linear',
  trained_betas: null,
  skip_prk_steps: false,
  set_alpha_to_one: false,
  prediction_type: 'epsilon',
  timestep_spacing: 'leading',
  steps_offset: 0,
};

const fround = Math.fround;

export class PndmScheduler implements Scheduler {
  readonly name = 'pndm';
  readonly config: Readonly<ResolvedConfig<typeof DEFAULTS>>;
  readonly timestepDtype = 'int64';
  readonly sigmas = undefined;
  readonly initNoiseSigma = 1;
  timesteps: readonly number[] = [];
  private readonly alphas: AlphaSchedule;
  private stride = 0;
  /** Model outputs of the steps so far (the repeated first step not counted twice), newest last; at most 4. */
  private history: Float32Array[] = [];
  /** The sample the repeated first step starts from again. */
  private firstSample: Float32Array | undefined;
  private stepsTaken = 0;

  constructor(config: SchedulerConfig) {
    this.config = resolveConfig(CLASS_NAME, DEFAULTS, config, { skip_prk_steps: true });
    if (!['epsilon', 'v_prediction'].includes(this.config.prediction_type)) {
      throw configError(CLASS_NAME, `prediction_type "${this.config.prediction_type}" is not supported; expected epsilon or v_prediction`);
    }
    this.alphas = new AlphaSchedule(CLASS_NAME, this.config, false);
  }

  setTimesteps(numInferenceSteps: number): void {
    checkStepCount(this.name, numInferenceSteps, this.config.num_train_timesteps);
    const grid = spacedTimesteps(CLASS_NAME, this.config, numInferenceSteps, true);
    // The second timestep is visited twice: 951, 901, 901, 851, …
    this.timesteps = grid.length > 1 ? [grid[0], grid[1], ...grid.slice(1)] : grid;
    this.stride = Math.floor(this.config.num_train_timesteps / numInferenceSteps);
    this.history = [];
    this.firstSample = undefined;
    this.stepsTaken = 0;
  }

  /**
   * Image-to-image: keeps the schedule from `index` on and starts afresh there (no history), as diffusers runs
   * PNDMScheduler on `timesteps[t_start:]`; the next step is then step 0 of the shorter schedule.
   */
  beginAt(index: number): number {
    this.timesteps = this.timesteps.slice(index);
    this.history = [];
    this.firstSample = undefined;
    this.stepsTaken = 0;
    return 0;
  }

  scaleModelInput(sample: Float32Array): Float32Array {
    return sample;
  }

  step(modelOutput: Float32Array, index: number, sample: Float32Array): Float32Array {
    checkSameLength(this.name, modelOutput, sample);
    checkStepOrder(this.name, index, this.stepsTaken, this.timesteps.length);
    this.stepsTaken++;
    const t = this.timesteps[index];
    if (index === 1) {
      // The repeat: from the first sample again, over the first step's interval, with the mean output.
      const first = this.history[0];
      const mean = modelOutput.map((m, i) => (m + first[i]) / 2);
      return this.previousSample(this.firstSample as Float32Array, t + this.stride, t, mean);
    }
    this.history = [...this.history, modelOutput.slice()].slice(-4);
    if (index === 0) this.firstSample = sample.slice();
    return this.previousSample(sample, t, t - this.stride, adamsBashforth(this.history));
  }

  /**
   * PNDM's transfer x_t → x_prev for a noise estimate ε (formula 9 of arXiv 2202.09778):
   * x_prev = √(ᾱ_prev/ᾱ_t)·x − (ᾱ_prev − ᾱ_t)·ε / (ᾱ_t·√(1 − ᾱ_prev) + √(ᾱ_t(1 − ᾱ_t)ᾱ_prev)).
   */
  private previousSample(sample: Float32Array, t: number, prevT: number, modelOutput: Float32Array): Float32Array {
    const alphaProd = this.alphas.at(t);
    const alphaProdPrev = this.alphas.at(prevT);
    const betaProd = fround(1 - alphaProd);
    const betaProdPrev = fround(1 - alphaProdPrev);
    const sampleScale = fround(Math.sqrt(fround(alphaProdPrev / alphaProd)));
    const denominator = fround(
      fround(alphaProd * fround(Math.sqrt(betaProdPrev))) +
        fround(Math.sqrt(fround(fround(alphaProd * betaProd) * alphaProdPrev))),
    );
    const outputScale = fround(alphaProdPrev - alphaProd);
    const epsilon = this.epsilonFrom(alphaProd, betaProd);
    return sample.map((x, i) => sampleScale * x - (outputScale * epsilon(x, modelOutput[i])) / denominator);
  }

  /** v-prediction is turned into ε (√ᾱ·v + √(1 − ᾱ)·x) after the multistep combination, as diffusers does. */
  private epsilonFrom(alphaProd: number, betaProd: number): (x: number, m: number) => number {
    if (this.config.prediction_type === 'epsilon') return (_x, m) => m;
    const sqrtAlpha = fround(Math.sqrt(alphaProd));
    const sqrtBeta = fround(Math.sqrt(betaProd));
    return (x, m) => sqrtAlpha * m + sqrtBeta * x;
  }
}

/** Adams–Bashforth combination of the last 1–4 outputs (newest last), the orders PLMS ramps up through. */
function adamsBashforth(history: Float32Array[]): Float32Array {
  const [e1, e2, e3, e4] = [...history].reverse();
  switch (history.length) {
    case 1:
      return e1;
    case 2:
      return e1.map((_, i) => (3 * e1[i] - e2[i]) / 2);
    case 3:
      return e1.map((_, i) => (23 * e1[i] - 16 * e2[i] + 5 * e3[i]) / 12);
    default:
      return e1.map((_, i) => (55 * e1[i] - 59 * e2[i] + 37 * e3[i] - 9 * e4[i]) / 24);
  }
}
