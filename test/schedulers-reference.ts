/** Shared by the scheduler tests: the reference scheduler cases (cases.json `schedulers`) and how to replay them. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readNpy } from '../src/engine/npy.js';
import { TorchGenerator } from '../src/engine/noise.js';
import type { SamplerName, Scheduler, SchedulerConfig } from '../src/engine/schedulers/index.js';
import { referenceCases, referencePath, tinyModelDir } from './helpers.js';

export interface ArrayRef {
  file: string;
  dtype: string;
  shape: number[];
}

export interface ReferenceScheduler {
  class: string;
  from_config_overrides: Record<string, unknown>;
  resolved_config: Record<string, unknown>;
  set_timesteps: Record<string, { timesteps: ArrayRef; timesteps_list: number[]; sigmas?: ArrayRef; init_noise_sigma: number }>;
  trace: { n: number; num_calls: number; generator_passed_to_step: boolean; x_after_each_step: ArrayRef };
}

/** cases.json key → reprompt sampler name. */
export const REFERENCE_SAMPLERS: Record<string, SamplerName> = {
  pndm: 'pndm',
  ddim: 'ddim',
  euler: 'euler',
  euler_a: 'euler-a',
  dpmpp_2m: 'dpm++2m',
  dpmpp_2m_karras: 'dpm++2m-karras',
  lms: 'lms',
  lcm: 'lcm',
};

export function referenceScheduler(key: string): ReferenceScheduler {
  return referenceCases<{ schedulers: { schedulers: Record<string, ReferenceScheduler> } }>().schedulers.schedulers[key];
}

/** The bundled model's scheduler_config.json (PNDMScheduler with the SD 1.5 values). */
export function modelSchedulerConfig(): SchedulerConfig {
  return JSON.parse(readFileSync(join(tinyModelDir, 'scheduler', 'scheduler_config.json'), 'utf8')) as SchedulerConfig;
}

/** A float or int reference array as plain numbers. */
export function referenceNumbers(ref: ArrayRef): number[] {
  const array = readNpy(referencePath(ref.file));
  return Array.from(array.data as ArrayLike<number | bigint>, Number);
}

export function referenceFloat32(ref: ArrayRef): Float32Array {
  const array = readNpy(referencePath(ref.file));
  if (array.dtype !== 'float32') throw new Error(`${ref.file}: expected float32, got ${array.dtype}`);
  return array.data;
}

/** Largest |a − b| / |b| (|b| = 0 compares absolutely). */
export function maxRelativeDiff(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} != ${expected.length}`);
  let worst = 0;
  for (let i = 0; i < actual.length; i++) {
    const scale = Math.abs(expected[i]) || 1;
    worst = Math.max(worst, Math.abs(actual[i] - expected[i]) / scale);
  }
  return worst;
}

export const TRACE_SHAPE = [1, 4, 32, 32];

/**
 * cases.json's trace procedure: x = randn(seed 7)·init_noise_sigma; one generator seeded 5 for every step;
 * eps_i = 0.1·scale_model_input(x_i, t_i) + randn(seed 100 + i). Returns x after each UNet evaluation.
 * `latentRows` replaces randn(seed 7) by a batch of rows; every row gets the same eps noise, as a single-row run would.
 * `shape` is one row's latent shape.
 */
export function runTrace(
  scheduler: Scheduler,
  steps: number,
  latentRows: Float32Array[] = [new TorchGenerator(7).randn(TRACE_SHAPE)],
  shape: readonly number[] = TRACE_SHAPE,
): Float32Array[] {
  scheduler.setTimesteps(steps);
  const rowSize = latentRows[0].length;
  let x: Float32Array = concatRows(latentRows).map((v) => v * scheduler.initNoiseSigma);
  const stepGenerator = new TorchGenerator(5);
  const ctx = { randn: () => stepGenerator.randn(shape) };
  const after: Float32Array[] = [];
  for (let i = 0; i < scheduler.timesteps.length; i++) {
    const noise = new TorchGenerator(100 + i).randn(shape);
    const scaled = scheduler.scaleModelInput(x, i);
    const eps = scaled.map((v, j) => Math.fround(0.1 * v) + noise[j % rowSize]);
    x = scheduler.step(eps, i, x, ctx);
    after.push(x);
  }
  return after;
}

export function concatRows(rows: Float32Array[]): Float32Array {
  const out = new Float32Array(rows.reduce((sum, row) => sum + row.length, 0));
  rows.reduce((offset, row) => (out.set(row, offset), offset + row.length), 0);
  return out;
}
