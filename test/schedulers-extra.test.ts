/**
 * Scheduler configs the bundled model does not use (SD 2.x v-prediction, cosine betas with clipping, linear betas
 * with sample prediction, trailing spacing and Karras σ), against diffusers 0.25.1 (test/fixtures/extra/schedulers).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, test } from '@jest/globals';
import { readNpy } from '../src/engine/npy.js';
import { TorchGenerator } from '../src/engine/noise.js';
import { createScheduler, type SchedulerConfig } from '../src/engine/schedulers/index.js';
import { fixturePath, maxAbs, maxAbsDiff } from './helpers.js';
import { REFERENCE_SAMPLERS, maxRelativeDiff, runTrace } from './schedulers-reference.js';

interface ExtraScheduler {
  resolved_config: Record<string, unknown>;
  set_timesteps: Record<string, { timesteps: number[]; timesteps_dtype: string; sigmas: number[] | null; init_noise_sigma: number }>;
  trace: { file: string; shape: number[] };
}

interface ExtraCases {
  trace_steps: number;
  trace_shape: number[];
  configs: Record<string, { config: SchedulerConfig; schedulers: Record<string, ExtraScheduler> }>;
}

const extra = JSON.parse(readFileSync(fixturePath('extra/schedulers/cases.json'), 'utf8')) as ExtraCases;

const cases = Object.entries(extra.configs).flatMap(([configName, { config, schedulers }]) =>
  Object.entries(schedulers).map(([key, reference]) => ({ configName, key, config, reference })),
);

describe.each(cases)('$configName: $key', ({ key, config, reference }) => {
  const sampler = REFERENCE_SAMPLERS[key];

  test('resolved config', () => {
    const resolved = JSON.parse(JSON.stringify(createScheduler(config, sampler).config, (_k, v: unknown) => (v === -Infinity ? '-inf' : v)));
    expect(resolved).toEqual(reference.resolved_config);
  });

  test.each(Object.keys(reference.set_timesteps))('set_timesteps(%s)', (n) => {
    const expected = reference.set_timesteps[n];
    const scheduler = createScheduler(config, sampler);
    scheduler.setTimesteps(Number(n));
    // LMS with Karras σ leaves its timesteps float64 in 0.25.1. They only feed the UNet, whose timestep input is
    // float32 or int64, so reprompt keeps float32 (the 1e-6 tolerance covers the difference).
    expect(scheduler.timestepDtype).toBe(expected.timesteps_dtype === 'float64' ? 'float32' : expected.timesteps_dtype);
    if (expected.timesteps_dtype === 'int64') expect(scheduler.timesteps).toEqual(expected.timesteps);
    else expect(maxRelativeDiff(scheduler.timesteps, expected.timesteps)).toBeLessThanOrEqual(1e-6);
    if (expected.sigmas) expect(maxRelativeDiff(scheduler.sigmas as Float32Array, expected.sigmas)).toBeLessThanOrEqual(1e-6);
    else expect(scheduler.sigmas).toBeUndefined();
    expect(Math.abs(scheduler.initNoiseSigma / expected.init_noise_sigma - 1)).toBeLessThanOrEqual(1e-6);
  });

  test(`${extra.trace_steps}-step trace`, () => {
    const reference_ = readNpy(fixturePath(`extra/schedulers/${reference.trace.file}`)).data as Float32Array;
    const latent = new TorchGenerator(7).randn(extra.trace_shape);
    const ours = runTrace(createScheduler(config, sampler), extra.trace_steps, [latent], extra.trace_shape);
    expect(ours).toHaveLength(reference.trace.shape[0]);
    const stepSize = latent.length;
    const limit = 5e-6 * maxAbs(reference_);
    ours.forEach((x, i) => {
      const diff = maxAbsDiff(x, reference_.subarray(i * stepSize, (i + 1) * stepSize));
      if (diff > limit) throw new Error(`step ${i}: max abs diff ${diff} > ${limit}`);
    });
  });
});
