/** Scheduler invariants the reference traces do not pin down: batches, prediction types, noise draws, errors, configs. */
import { describe, expect, test } from '@jest/globals';
import { isUserError } from '../src/engine/errors.js';
import { TorchGenerator } from '../src/engine/noise.js';
import { alphasCumprod } from '../src/engine/schedulers/betas.js';
import {
  SAMPLER_NAMES,
  createScheduler,
  samplerForClassName,
  type SamplerName,
  type SchedulerConfig,
} from '../src/engine/schedulers/index.js';
import { maxAbsDiff } from './helpers.js';
import { TRACE_SHAPE, concatRows, modelSchedulerConfig, runTrace } from './schedulers-reference.js';

const latent = (seed: number): Float32Array => new TorchGenerator(seed).randn(TRACE_SHAPE);

function userErrorOf(run: () => unknown): { code: string; message: string } {
  try {
    run();
  } catch (error) {
    if (isUserError(error)) return { code: error.code, message: error.message };
    throw error;
  }
  throw new Error('expected a UserError');
}

describe.each(SAMPLER_NAMES)('%s', (sampler) => {
  test('a 2-row batch steps each row exactly like a 1-row run', () => {
    const rows = [latent(7), latent(8)];
    const batch = runTrace(createScheduler(modelSchedulerConfig(), sampler), 6, rows);
    const singles = rows.map((row) => runTrace(createScheduler(modelSchedulerConfig(), sampler), 6, [row]));
    batch.forEach((x, i) => expect(Array.from(x)).toEqual(Array.from(concatRows(singles.map((run) => run[i])))));
  });

  test('v_prediction gives a different, finite result', () => {
    const epsilon = runTrace(createScheduler(modelSchedulerConfig(), sampler), 8).at(-1) as Float32Array;
    const vConfig = { ...modelSchedulerConfig(), prediction_type: 'v_prediction' };
    const scheduler = createScheduler(vConfig, sampler);
    expect(scheduler.config.prediction_type).toBe('v_prediction');
    const v = runTrace(scheduler, 8).at(-1) as Float32Array;
    expect(v.every(Number.isFinite)).toBe(true);
    expect(maxAbsDiff(v, epsilon)).toBeGreaterThan(1e-2);
  });

  test('rejects a step count of 0 as bad input', () => {
    expect(userErrorOf(() => createScheduler(modelSchedulerConfig(), sampler).setTimesteps(0)).code).toBe('bad_input');
  });
});

describe('noise draws follow diffusers, keeping the generator stream aligned', () => {
  const drawsPerStep: Record<SamplerName, (step: number, steps: number) => number> = {
    pndm: () => 0,
    ddim: () => 0, // eta = 0
    euler: () => 1, // drawn for s_churn, then discarded
    'euler-a': () => 1,
    'dpm++2m': () => 0,
    'dpm++2m-karras': () => 0,
    lms: () => 0,
    lcm: (step, steps) => (step < steps - 1 ? 1 : 0), // no re-noising after the last step
  };

  test.each(SAMPLER_NAMES)('%s', (sampler) => {
    const scheduler = createScheduler(modelSchedulerConfig(), sampler);
    scheduler.setTimesteps(5);
    let draws = 0;
    const ctx = {
      randn: () => {
        draws++;
        return latent(draws);
      },
    };
    let x = latent(7);
    scheduler.timesteps.forEach((_, i) => {
      const before = draws;
      x = scheduler.step(scheduler.scaleModelInput(x, i), i, x, ctx);
      expect(draws - before).toBe(drawsPerStep[sampler](i, scheduler.timesteps.length));
    });
  });
});

describe('Euler ancestral and LCM use their noise', () => {
  test.each(['euler-a', 'lcm'] as const)('%s: a different stream gives a different result', (sampler) => {
    const run = (seed: number): Float32Array => {
      const scheduler = createScheduler(modelSchedulerConfig(), sampler);
      scheduler.setTimesteps(4);
      const generator = new TorchGenerator(seed);
      const x = latent(7).map((v) => v * scheduler.initNoiseSigma);
      return scheduler.step(latent(100), 0, x, { randn: () => generator.randn(TRACE_SHAPE) });
    };
    expect(maxAbsDiff(run(5), run(6))).toBeGreaterThan(1e-2);
  });
});

describe('createScheduler', () => {
  const classSamplers: Array<[string, SchedulerConfig, SamplerName]> = [
    ['PNDMScheduler', {}, 'pndm'],
    ['DDIMScheduler', {}, 'ddim'],
    ['EulerDiscreteScheduler', {}, 'euler'],
    ['EulerAncestralDiscreteScheduler', {}, 'euler-a'],
    ['DPMSolverMultistepScheduler', {}, 'dpm++2m'],
    ['DPMSolverMultistepScheduler', { use_karras_sigmas: true }, 'dpm++2m-karras'],
    ['LMSDiscreteScheduler', {}, 'lms'],
    ['LCMScheduler', {}, 'lcm'],
  ];

  test.each(classSamplers)('%s %j runs as %s', (className, extra, sampler) => {
    const config = { ...modelSchedulerConfig(), ...extra, _class_name: className };
    expect(samplerForClassName(className, config)).toBe(sampler);
    expect(createScheduler(config).name).toBe(sampler);
  });

  test('the bundled model runs PNDM (PLMS) by default', () => {
    const scheduler = createScheduler(modelSchedulerConfig());
    expect(scheduler.name).toBe('pndm');
    scheduler.setTimesteps(3);
    expect(scheduler.timesteps).toHaveLength(4);
  });

  test('an unknown class is a model error naming it and the supported classes', () => {
    const error = userErrorOf(() => createScheduler({ ...modelSchedulerConfig(), _class_name: 'HeunDiscreteScheduler' }));
    expect(error.code).toBe('model');
    expect(error.message).toContain('HeunDiscreteScheduler');
    expect(error.message).toContain('EulerDiscreteScheduler');
    expect(samplerForClassName('HeunDiscreteScheduler', {})).toBeUndefined();
  });

  test('a chosen sampler keeps the config but not the class defaults it overrides', () => {
    const config = { ...modelSchedulerConfig(), _class_name: 'EulerDiscreteScheduler', use_karras_sigmas: true };
    const dpm = createScheduler(config, 'dpm++2m');
    expect(dpm.config.use_karras_sigmas).toBe(false);
    expect(dpm.config.beta_schedule).toBe('scaled_linear');
    // DDIM's own defaults (clip_sample, set_alpha_to_one true) apply where the config is silent.
    const { clip_sample: _c, set_alpha_to_one: _s, ...silent } = modelSchedulerConfig();
    const ddim = createScheduler(silent, 'ddim');
    expect(ddim.config.clip_sample).toBe(true);
    expect(ddim.config.set_alpha_to_one).toBe(true);
  });

  test.each([
    [{ beta_schedule: 'exponential' }, 'beta_schedule'],
    [{ timestep_spacing: 'random' }, 'timestep_spacing'],
    [{ num_train_timesteps: '1000' }, 'num_train_timesteps'],
    [{ trained_betas: [0.1, 0.2] }, 'trained_betas'],
    [{ prediction_type: 'flow' }, 'prediction_type'],
  ])('a bad config value %j is a model error naming %s', (extra, key) => {
    const error = userErrorOf(() => {
      const scheduler = createScheduler({ ...modelSchedulerConfig(), ...extra } as SchedulerConfig, 'ddim');
      scheduler.setTimesteps(4);
    });
    expect(error.code).toBe('model');
    expect(error.message).toContain(key);
  });

  test('LCM refuses more steps than its 50-step distillation grid', () => {
    const scheduler = createScheduler(modelSchedulerConfig(), 'lcm');
    expect(userErrorOf(() => scheduler.setTimesteps(51)).code).toBe('bad_input');
    scheduler.setTimesteps(50);
    expect(scheduler.timesteps).toHaveLength(50);
  });

  test('multistep samplers refuse steps out of order', () => {
    const scheduler = createScheduler(modelSchedulerConfig(), 'dpm++2m');
    scheduler.setTimesteps(4);
    const x = latent(7);
    expect(() => scheduler.step(x, 1, x, { randn: () => x })).toThrow(/out of order/);
  });
});

describe('timestep spacing (Table 2 of arXiv 2305.08891, 10 of 1000 steps)', () => {
  const spaced = (sampler: SamplerName, timestep_spacing: string, steps_offset = 0, steps = 10): readonly number[] => {
    const scheduler = createScheduler({ ...modelSchedulerConfig(), timestep_spacing, steps_offset }, sampler);
    scheduler.setTimesteps(steps);
    return scheduler.timesteps;
  };

  test('linspace, leading and trailing', () => {
    expect(spaced('ddim', 'linspace')).toEqual([999, 888, 777, 666, 555, 444, 333, 222, 111, 0]);
    expect(spaced('ddim', 'leading')).toEqual([900, 800, 700, 600, 500, 400, 300, 200, 100, 0]);
    expect(spaced('ddim', 'trailing')).toEqual([999, 899, 799, 699, 599, 499, 399, 299, 199, 99]);
  });

  test('Euler keeps linspace timesteps fractional; PNDM repeats its second timestep', () => {
    // 20 points from 0 to 999 are 999/19 = 52.58 apart; DDIM rounds them, Euler does not.
    expect(spaced('euler', 'linspace', 0, 20)[1]).toBeCloseTo(946.421, 3);
    expect(spaced('ddim', 'linspace', 0, 20)[1]).toBe(946);
    expect(spaced('pndm', 'trailing', 0).slice(0, 4)).toEqual([999, 899, 899, 799]);
  });

  test('DPM-Solver spaces n + 1 points and drops t = 0', () => {
    expect(spaced('dpm++2m', 'leading', 0)).toEqual([900, 810, 720, 630, 540, 450, 360, 270, 180, 90]);
    expect(spaced('dpm++2m', 'linspace', 0)).toEqual([999, 899, 799, 699, 599, 500, 400, 300, 200, 100]);
  });
});

describe('beta schedules', () => {
  const base = { num_train_timesteps: 1000, beta_start: 0.0001, beta_end: 0.02, trained_betas: null };

  test('trained_betas reproduce the schedule they were taken from', () => {
    const linear = alphasCumprod('DDIMScheduler', { ...base, beta_schedule: 'linear' });
    const betas = Array.from(linear, (alphaBar, t) => 1 - alphaBar / (t === 0 ? 1 : linear[t - 1]));
    const trained = alphasCumprod('DDIMScheduler', { ...base, beta_schedule: 'linear', trained_betas: betas });
    expect(maxAbsDiff(trained, linear)).toBeLessThan(1e-6);
  });

  test('linear and squaredcos_cap_v2 match their float64 definitions', () => {
    const product = (beta: (t: number) => number): number[] => {
      let alphaBar = 1;
      return Array.from({ length: 1000 }, (_, t) => (alphaBar *= 1 - beta(t)));
    };
    const linear = alphasCumprod('DDIMScheduler', { ...base, beta_schedule: 'linear' });
    expect(maxAbsDiff(linear, product((t) => 0.0001 + (t * (0.02 - 0.0001)) / 999))).toBeLessThan(1e-6);
    const f = (t: number): number => Math.cos(((t + 0.008) / 1.008) * (Math.PI / 2)) ** 2;
    const cosine = alphasCumprod('DDIMScheduler', { ...base, beta_schedule: 'squaredcos_cap_v2' });
    expect(maxAbsDiff(cosine, product((t) => Math.min(1 - f((t + 1) / 1000) / f(t / 1000), 0.999)))).toBeLessThan(1e-6);
  });

  test('rescale_betas_zero_snr applies only to the classes that have the option', () => {
    const topSigma = (sampler: SamplerName, rescale: boolean): number => {
      const config = { ...modelSchedulerConfig(), timestep_spacing: 'trailing', rescale_betas_zero_snr: rescale };
      const scheduler = createScheduler(config, sampler);
      scheduler.setTimesteps(10);
      return (scheduler.sigmas as Float32Array)[0];
    };
    // Euler pins the last ᾱ to 2⁻²⁴ instead of 0, so σ_max = √(2²⁴ − 1) ≈ 4096.
    expect(topSigma('euler', true)).toBeCloseTo(4096, 1);
    expect(topSigma('lms', true)).toBe(topSigma('lms', false));
    expect(topSigma('dpm++2m', true)).toBe(topSigma('dpm++2m', false));
  });

  test('rescale_betas_zero_snr drives the last alphas_cumprod to 0', () => {
    const rescaled = alphasCumprod('DDIMScheduler', { ...base, beta_schedule: 'scaled_linear' }, true);
    expect(rescaled[999]).toBeLessThan(1e-12);
    const plain = alphasCumprod('DDIMScheduler', { ...base, beta_schedule: 'scaled_linear' });
    expect(Math.abs(rescaled[0] - plain[0])).toBeLessThan(1e-6);
  });
});
