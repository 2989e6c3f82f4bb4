/**
 * The 32-bit Mersenne Twister (MT19937) with the standard seeding routine: the engine behind torch's CPU
 * generator (at::mt19937), which produces the same stream as std::mt19937 for the same 32-bit seed.
 */

const STATE_SIZE = 624;
const SHIFT_SIZE = 397;
const MATRIX_A = 0x9908b0df;
const UPPER_MASK = 0x80000000;
const LOWER_MASK = 0x7fffffff;
const INIT_MULTIPLIER = 1812433253;

export class Mt19937 {
  private readonly state = new Uint32Array(STATE_SIZE);
  /** Index of the next word to temper; STATE_SIZE means the state must be regenerated first. */
  private index = STATE_SIZE;

  /** `seed32` is taken modulo 2^32, as torch does with its 64-bit seeds. */
  constructor(seed32: number) {
    const s = this.state;
    s[0] = seed32 >>> 0;
    for (let i = 1; i < STATE_SIZE; i++) {
      const prev = s[i - 1];
      // Math.imul keeps the product in 32 bits, exactly like unsigned overflow in C.
      s[i] = Math.imul(INIT_MULTIPLIER, prev ^ (prev >>> 30)) + i;
    }
  }

  /** The next 32-bit output, as an unsigned integer in [0, 2^32). */
  nextUint32(): number {
    if (this.index >= STATE_SIZE) this.regenerate();
    let y = this.state[this.index++];
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  /** Twists the whole state block at once (the reference algorithm's generation step). */
  private regenerate(): void {
    const s = this.state;
    for (let i = 0; i < STATE_SIZE; i++) {
      const y = (s[i] & UPPER_MASK) | (s[(i + 1) % STATE_SIZE] & LOWER_MASK);
      s[i] = s[(i + SHIFT_SIZE) % STATE_SIZE] ^ (y >>> 1) ^ (y & 1 ? MATRIX_A : 0);
    }
    this.index = 0;
  }
}
