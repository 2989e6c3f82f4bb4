/** Guards and helpers shared by the `step` implementations. Misuse here is a bug in the caller, not a user error. */
import { UserError } from '../errors.js';

/** setTimesteps' step count: a whole number from 1 to `maximum` (the training timesteps, or LCM's grid). */
export function checkStepCount(name: string, n: number, maximum: number): void {
  if (!Number.isInteger(n) || n < 1 || n > maximum) {
    throw new UserError('bad_input', `steps must be a whole number from 1 to ${maximum} for the ${name} sampler, got ${n}`);
  }
}

/** Multistep samplers keep history, so their steps must come exactly in order, once each. */
export function checkStepOrder(name: string, index: number, expected: number, total: number): void {
  if (index !== expected || index >= total) {
    throw new Error(`${name}: step ${index} called out of order (expected step ${expected} of ${total})`);
  }
}

export function checkStepIndex(name: string, index: number, total: number): void {
  if (!Number.isInteger(index) || index < 0 || index >= total) {
    throw new Error(`${name}: step index ${index} is outside 0…${total - 1} (call setTimesteps first)`);
  }
}

export function checkSameLength(name: string, modelOutput: Float32Array, sample: Float32Array): void {
  if (modelOutput.length !== sample.length) {
    throw new Error(`${name}: model output has ${modelOutput.length} values but the sample has ${sample.length}`);
  }
}

/**
 * Draws one latent of noise and checks that the sample is a whole number of such rows: every row gets the same
 * noise, so row r of a batch steps exactly like a single-row run.
 */
export function drawRowNoise(name: string, randn: () => Float32Array, sampleLength: number): Float32Array {
  const noise = randn();
  if (noise.length === 0 || sampleLength % noise.length !== 0) {
    throw new Error(`${name}: a sample of ${sampleLength} values is not a whole number of ${noise.length}-value latents`);
  }
  return noise;
}
