/**
 * Seeded Gaussian noise matching torch's CPU generator to within a few float32 ulps, so that a seed in reprompt
 * draws the same latents as `torch.randn(shape, generator=torch.Generator('cpu').manual_seed(seed))` in diffusers.
 *
 * torch has two ways of filling a float32 tensor with normals, picked by its size:
 * - 16 elements or more: one 32-bit draw per element turned into a 24-bit uniform, then Box-Muller in blocks
 *   of 16 (element j < 8 pairs with j + 8). A size that is not a multiple of 16 draws 16 fresh uniforms and
 *   recomputes the last 16 outputs from them.
 * - fewer than 16: element by element, Box-Muller on 53-bit uniforms (two 32-bit draws each); each pair gives
 *   two normals, and the second is cached in the generator for the next small draw, across calls.
 */
import { Mt19937 } from './noise/mt19937.js';
import { seedToBigInt } from './noise/seed.js';

export { normalizeSeed, randomSeed } from './noise/seed.js';

/** Tensors with at least this many elements take torch's vectorised 16-block path. */
const BLOCK = 16;
const HALF_BLOCK = BLOCK / 2;
const TWO_PI = 2 * Math.PI;
const fround = Math.fround;
const TWO_PI_FLOAT32 = fround(TWO_PI);
const TWO_POW_MINUS_24 = 2 ** -24;
const TWO_POW_MINUS_53 = 2 ** -53;
const TWO_POW_32 = 2 ** 32;

/** A torch.Generator('cpu') look-alike. seed: 0 ≤ seed < 2^64 as bigint, number or decimal string. */
export class TorchGenerator {
  private readonly engine: Mt19937;
  /** The second normal of the last scalar Box-Muller pair, not yet handed out (torch's next_double_normal_sample). */
  private cachedNormal: number | null = null;

  constructor(seed: bigint | number | string) {
    // torch seeds its Mersenne Twister with the low 32 bits of the 64-bit seed.
    this.engine = new Mt19937(Number(seedToBigInt(seed) & 0xffffffffn));
  }

  /** torch.randn(shape, generator=this, dtype=float32), continuing the stream. */
  randn(shape: readonly number[]): Float32Array {
    const out = new Float32Array(elementCount(shape));
    if (out.length >= BLOCK) this.fillBlocks(out);
    else this.fillScalar(out);
    return out;
  }

  private fillBlocks(out: Float32Array): void {
    const size = out.length;
    // A 24-bit uniform is exact in float32, so `out` itself holds the uniforms until they are transformed.
    for (let i = 0; i < size; i++) out[i] = this.uniform24();
    for (let start = 0; start + BLOCK <= size; start += BLOCK) boxMullerBlock(out, start);
    if (size % BLOCK !== 0) {
      const tail = size - BLOCK;
      for (let i = tail; i < size; i++) out[i] = this.uniform24();
      boxMullerBlock(out, tail);
    }
  }

  private fillScalar(out: Float32Array): void {
    for (let i = 0; i < out.length; i++) out[i] = this.scalarNormal();
  }

  /** torch's normal_distribution<double>: Box-Muller whose sine half is kept for the next call. */
  private scalarNormal(): number {
    if (this.cachedNormal !== null) {
      const cached = this.cachedNormal;
      this.cachedNormal = null;
      return cached;
    }
    const u1 = this.uniform53();
    const u2 = this.uniform53();
    const radius = Math.sqrt(-2 * Math.log1p(-u2));
    const theta = TWO_PI * u1;
    this.cachedNormal = radius * Math.sin(theta);
    return radius * Math.cos(theta);
  }

  /** A float uniform in [0, 1) from the low 24 bits of one draw. */
  private uniform24(): number {
    return (this.engine.nextUint32() & 0xffffff) * TWO_POW_MINUS_24;
  }

  /** A double uniform in [0, 1) from the low 53 bits of two draws (the first draw is the high word). */
  private uniform53(): number {
    const high = this.engine.nextUint32() & 0x1fffff;
    const low = this.engine.nextUint32();
    return (high * TWO_POW_32 + low) * TWO_POW_MINUS_53;
  }
}

/**
 * Turns the 16 uniforms at out[start…start+15] into normals in place. torch does this arithmetic in float32,
 * so every intermediate is rounded to float32 here too (Math.fround); rounding only the result instead would
 * lose up to ~1e-6, mostly through the angle, whose float32 rounding gets amplified by the radius.
 */
function boxMullerBlock(out: Float32Array, start: number): void {
  for (let j = start; j < start + HALF_BLOCK; j++) {
    const logTerm = fround(Math.log(fround(1 - out[j])));
    const radius = fround(Math.sqrt(fround(-2 * logTerm)));
    const theta = fround(TWO_PI_FLOAT32 * out[j + HALF_BLOCK]);
    out[j] = radius * fround(Math.cos(theta));
    out[j + HALF_BLOCK] = radius * fround(Math.sin(theta));
  }
}

function elementCount(shape: readonly number[]): number {
  let count = 1;
  for (const dim of shape) {
    if (!Number.isSafeInteger(dim) || dim < 0) {
      // Shapes come from code, not from users: a bad one is a bug.
      throw new RangeError(`noise shape [${shape.join(', ')}] must hold non-negative integers`);
    }
    count *= dim;
  }
  return count;
}
