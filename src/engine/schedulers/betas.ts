/**
 * The training noise schedule every sampler starts from: betas → alphas_cumprod, in float32 exactly as the
 * diffusers constructors compute them on torch (β in float32, 1 − β in float32, cumprod rounded to float32).
 */
import { configError, requireOneOf } from './config.js';
import { torchCumprodFloat32, torchLinspaceFloat32 } from './torch-compat.js';

const fround = Math.fround;

export const BETA_SCHEDULES = ['linear', 'scaled_linear', 'squaredcos_cap_v2'] as const;

export interface BetaConfig {
  num_train_timesteps: number;
  beta_start: number;
  beta_end: number;
  beta_schedule: string;
  // Typed as the config declares it, but checked: a model file may hold anything.
  trained_betas?: number[] | null;
}

/**
 * alphas_cumprod[t] for t = 0 … num_train_timesteps − 1. `rescaleZeroSnr` is the class's rescale_betas_zero_snr;
 * classes that lack the option (PNDM, DPM-Solver, LMS) ignore the key like diffusers does.
 */
export function alphasCumprod(className: string, config: BetaConfig, rescaleZeroSnr = false): Float32Array {
  let betas = trainingBetas(className, config);
  if (rescaleZeroSnr) betas = rescaleZeroTerminalSnr(betas);
  return torchCumprodFloat32(betas.map((beta) => 1 - beta));
}

function trainingBetas(className: string, config: BetaConfig): Float32Array {
  const count = config.num_train_timesteps;
  if (count < 2) throw configError(className, `num_train_timesteps must be at least 2, got ${count}`);
  if (config.trained_betas !== null && config.trained_betas !== undefined) {
    return checkedTrainedBetas(className, config.trained_betas, count);
  }
  const schedule = requireOneOf(className, 'beta_schedule', config.beta_schedule, BETA_SCHEDULES);
  switch (schedule) {
    case 'linear':
      return torchLinspaceFloat32(config.beta_start, config.beta_end, count);
    case 'scaled_linear':
      // Spaced linearly in √β, then squared in float32 (latent diffusion's schedule).
      return torchLinspaceFloat32(Math.sqrt(config.beta_start), Math.sqrt(config.beta_end), count).map((r) => r * r);
    case 'squaredcos_cap_v2':
      return cosineBetas(count);
  }
}

function checkedTrainedBetas(className: string, value: unknown, count: number): Float32Array {
  const valid = Array.isArray(value) && value.every((beta) => typeof beta === 'number' && beta > 0 && beta < 1);
  if (!valid || value.length !== count) {
    throw configError(className, `trained_betas must be ${count} numbers between 0 and 1 (num_train_timesteps)`);
  }
  return Float32Array.from(value as number[]);
}

/** Glide's cosine schedule (betas_for_alpha_bar): float64 math, capped at 0.999, stored as float32. */
function cosineBetas(count: number): Float32Array {
  const alphaBar = (t: number): number => Math.cos(((t + 0.008) / 1.008) * Math.PI / 2) ** 2;
  return Float32Array.from({ length: count }, (_, i) =>
    Math.min(1 - alphaBar((i + 1) / count) / alphaBar(i / count), 0.999),
  );
}

/**
 * Rescales betas so the last timestep has zero signal-to-noise ratio (arXiv 2305.08891, Algorithm 1): √ᾱ is
 * shifted so its last value is 0 and scaled so its first is unchanged. float32 throughout, like torch.
 */
function rescaleZeroTerminalSnr(betas: Float32Array): Float32Array {
  const sqrtAlphaBar = torchCumprodFloat32(betas.map((beta) => 1 - beta)).map(Math.sqrt);
  const first = sqrtAlphaBar[0];
  const last = sqrtAlphaBar[sqrtAlphaBar.length - 1];
  const scale = fround(first / fround(first - last));
  const alphaBar = sqrtAlphaBar.map((value) => {
    const rescaled = fround(fround(value - last) * scale);
    return rescaled * rescaled;
  });
  return alphaBar.map((value, t) => (t === 0 ? 1 - value : 1 - fround(value / alphaBar[t - 1])));
}
