/**
 * Noise levels σ(t) = √((1 − ᾱ_t)/ᾱ_t) and the two ways diffusers moves between σ and t: interpolating the
 * training table at a timestep, and the inverse, mapping a Karras σ back to a (fractional) timestep.
 */
import { interpOnIntegerGrid, linspace } from './numpy-compat.js';

const fround = Math.fround;

/** σ for every training timestep, computed with float32 tensor ops like diffusers. */
export function trainingSigmas(alphasCumprod: Float32Array): Float32Array {
  return alphasCumprod.map((alphaBar) => Math.sqrt(fround(fround(1 - alphaBar) / alphaBar)));
}

/** np.interp of the σ table at each (possibly fractional) timestep; float64 like NumPy. */
export function sigmasAtTimesteps(timesteps: readonly number[], table: Float32Array): number[] {
  return timesteps.map((t) => interpOnIntegerGrid(t, table));
}

/**
 * Karras et al. (2022) noise levels: n points evenly spaced in σ^(1/ρ) from σ_max down to σ_min, ρ = 7.
 * Float64, as diffusers computes them in NumPy.
 */
export function karrasSigmas(sigmaMin: number, sigmaMax: number, n: number): number[] {
  const rho = 7;
  const minInvRho = sigmaMin ** (1 / rho);
  const maxInvRho = sigmaMax ** (1 / rho);
  return linspace(0, 1, n).map((ramp) => (maxInvRho + ramp * (minInvRho - maxInvRho)) ** rho);
}

/**
 * diffusers' `_sigma_to_t`: the timestep whose log σ brackets log `sigma` in the training table, interpolated
 * linearly in log σ and clamped to the table. `logSigmas` is float32 (NumPy logs a float32 array in float32).
 */
export function sigmaToTimestep(sigma: number, logSigmas: Float32Array): number {
  const logSigma = Math.log(Math.max(sigma, 1e-10));
  // The last table entry at or below logSigma (the table rises with t), kept below the top pair.
  let low = 0;
  for (let t = 0; t < logSigmas.length; t++) if (logSigma - logSigmas[t] >= 0) low = t;
  low = Math.min(low, logSigmas.length - 2);
  const weight = (logSigmas[low] - logSigma) / (logSigmas[low] - logSigmas[low + 1]);
  const clamped = Math.min(Math.max(weight, 0), 1);
  return (1 - clamped) * low + clamped * (low + 1);
}

export function logSigmasFloat32(table: Float32Array): Float32Array {
  return table.map(Math.log);
}
