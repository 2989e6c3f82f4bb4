/** Scheduler set-up against diffusers 0.25.1 (reference/schedulers, cases.json `schedulers`). */
import { describe, expect, test } from '@jest/globals';
import { alphasCumprod } from '../src/engine/schedulers/betas.js';
import { createScheduler } from '../src/engine/schedulers/index.js';
import {
  REFERENCE_SAMPLERS,
  maxRelativeDiff,
  modelSchedulerConfig,
  referenceFloat32,
  referenceNumbers,
  referenceScheduler,
} from './schedulers-reference.js';
import { referenceCases } from './helpers.js';

const STEP_COUNTS = ['1', '4', '20', '50'];

describe('alphas_cumprod', () => {
  test('is bit-identical to torch (float32 linspace, float32 1 − β, cumprod)', () => {
    const config = modelSchedulerConfig();
    const ours = alphasCumprod('PNDMScheduler', {
      num_train_timesteps: config.num_train_timesteps as number,
      beta_start: config.beta_start as number,
      beta_end: config.beta_end as number,
      beta_schedule: config.beta_schedule as string,
      trained_betas: null,
    });
    const cases = referenceCases<{ schedulers: { schedulers: { _alphas_cumprod: { file: string; dtype: string; shape: number[] } } } }>();
    const reference = referenceFloat32(cases.schedulers.schedulers._alphas_cumprod);
    expect(Array.from(ours)).toEqual(Array.from(reference));
  });
});

describe.each(Object.entries(REFERENCE_SAMPLERS))('%s scheduler', (key, sampler) => {
  const reference = referenceScheduler(key);

  test('resolves the model config like from_config', () => {
    const scheduler = createScheduler(modelSchedulerConfig(), sampler);
    const resolved = JSON.parse(JSON.stringify(scheduler.config, (_k, v: unknown) => (v === -Infinity ? '-inf' : v)));
    expect(resolved).toEqual(reference.resolved_config);
  });

  test.each(STEP_COUNTS)('set_timesteps(%s): timesteps, sigmas and init_noise_sigma', (n) => {
    const expected = reference.set_timesteps[n];
    const scheduler = createScheduler(modelSchedulerConfig(), sampler);
    scheduler.setTimesteps(Number(n));

    const referenceTimesteps = referenceNumbers(expected.timesteps);
    expect(scheduler.timestepDtype).toBe(expected.timesteps.dtype);
    if (expected.timesteps.dtype === 'int64') {
      expect(scheduler.timesteps).toEqual(referenceTimesteps);
    } else {
      expect(maxRelativeDiff(scheduler.timesteps, referenceTimesteps)).toBeLessThanOrEqual(1e-6);
    }

    if (expected.sigmas) {
      expect(scheduler.sigmas).toBeDefined();
      expect(maxRelativeDiff(scheduler.sigmas as Float32Array, referenceFloat32(expected.sigmas))).toBeLessThanOrEqual(1e-6);
    } else {
      expect(scheduler.sigmas).toBeUndefined();
    }
    expect(Math.abs(scheduler.initNoiseSigma - expected.init_noise_sigma) / expected.init_noise_sigma).toBeLessThanOrEqual(1e-6);
  });
});
