/**
 * torch 1.13 CPU float32 kernels whose exact rounding decides diffusers' alphas_cumprod. Every value here was
 * checked bit for bit against the reference alphas_cumprod of torch 1.13.1 (see the scheduler tests).
 */

const fround = Math.fround;

/**
 * Lanes of one CPU vector of floats (AVX2). torch's vectorised loop fills two vectors per iteration and
 * finishes the remainder with its scalar lambda. AVX-512's 16 lanes give the same numbers for 1000 steps.
 */
const VECTOR_LANES = 8;

/**
 * torch.linspace(start, end, steps, dtype=float32) as its CPU kernel computes it: step = (end − start)/(steps − 1)
 * in float32; the first half counts up from `start` and the second half down from `end`. Each vector of lanes
 * starts from a base value and adds lane·step. The compiler fuses `a + step·i` into one FMA (one rounding), which is
 * what makes 1 − β and its cumulative product come out identical to torch's.
 */
export function torchLinspaceFloat32(start: number, end: number, steps: number): Float32Array {
  const from = fround(start);
  const to = fround(end);
  const step = fround((to - from) / (steps - 1));
  const halfway = Math.floor(steps / 2);
  // An FMA rounds once: the float64 product and sum are exact or nearly so for these magnitudes.
  const valueAt = (index: number): number =>
    index < halfway ? fround(from + step * index) : fround(to - step * (steps - index - 1));

  const out = new Float32Array(steps);
  let index = 0;
  for (; index + 2 * VECTOR_LANES <= steps; index += 2 * VECTOR_LANES) {
    for (const vectorStart of [index, index + VECTOR_LANES]) {
      const base = valueAt(vectorStart);
      for (let lane = 0; lane < VECTOR_LANES; lane++) out[vectorStart + lane] = fround(base + lane * step);
    }
  }
  for (; index < steps; index++) out[index] = valueAt(index);
  return out;
}

/** torch.cumprod on a float32 CPU tensor: the running product is kept in float64 and each output rounded to float32. */
export function torchCumprodFloat32(values: Float32Array): Float32Array {
  const out = new Float32Array(values.length);
  let product = 1;
  for (let i = 0; i < values.length; i++) {
    product *= values[i];
    out[i] = product;
  }
  return out;
}
