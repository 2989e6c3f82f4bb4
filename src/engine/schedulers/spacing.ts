/**
 * Which training timesteps n inference steps visit (`timestep_spacing`, Table 2 of arXiv 2305.08891), as the
 * diffusers 0.25.1 schedulers compute them. All lists run from the noisiest timestep down.
 */
import { requireOneOf } from './config.js';
import { arange, linspace, roundHalfEven } from './numpy-compat.js';

export const TIMESTEP_SPACINGS = ['leading', 'trailing', 'linspace'] as const;

export interface SpacingConfig {
  num_train_timesteps: number;
  timestep_spacing: string;
  steps_offset: number;
}

/**
 * The grid of DDIM, PNDM, Euler, Euler a and LMS.
 * - leading: i·(T // n) + steps_offset (20 of 1000 → 951 … 1);
 * - trailing: round(T − i·T/n) − 1 (20 of 1000 → 999 … 49);
 * - linspace: n points from 0 to T − 1. The integer schedulers round them; Euler and LMS keep the float32
 *   values (`integer` false).
 */
export function spacedTimesteps(className: string, config: SpacingConfig, n: number, integer: boolean): number[] {
  const T = config.num_train_timesteps;
  switch (requireOneOf(className, 'timestep_spacing', config.timestep_spacing, TIMESTEP_SPACINGS)) {
    case 'leading': {
      const ratio = Math.floor(T / n);
      return descending(n).map((i) => i * ratio + config.steps_offset);
    }
    case 'trailing':
      return arange(T, 0, -T / n).map((t) => roundHalfEven(t) - 1);
    case 'linspace':
      return linspace(0, T - 1, n)
        .reverse()
        .map((t) => (integer ? roundHalfEven(t) : Math.fround(t)));
  }
}

/**
 * DPMSolverMultistep's own grid: it spaces n + 1 points and drops the last, so "leading" divides by n + 1
 * (4 of 1000 → 801, 601, 401, 201). `lastTimestep` is T unless lambda_min_clipped cuts the noisy end off.
 */
export function dpmSolverTimesteps(className: string, config: SpacingConfig, n: number, lastTimestep: number): number[] {
  switch (requireOneOf(className, 'timestep_spacing', config.timestep_spacing, TIMESTEP_SPACINGS)) {
    case 'leading': {
      const ratio = Math.floor(lastTimestep / (n + 1));
      return descending(n + 1)
        .slice(0, n)
        .map((i) => i * ratio + config.steps_offset);
    }
    case 'trailing':
      return arange(lastTimestep, 0, -config.num_train_timesteps / n).map((t) => roundHalfEven(t) - 1);
    case 'linspace':
      return linspace(0, lastTimestep - 1, n + 1)
        .reverse()
        .slice(0, n)
        .map(roundHalfEven);
  }
}

/** n − 1, n − 2, …, 0. */
function descending(n: number): number[] {
  return Array.from({ length: n }, (_, i) => n - 1 - i);
}
