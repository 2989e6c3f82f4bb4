/** User seeds: validation into a canonical decimal string, and fresh random seeds. */
import { randomBytes } from 'node:crypto';
import { UserError } from '../errors.js';

/** torch accepts any unsigned 64-bit seed. */
const SEED_LIMIT = 1n << 64n;
const EXPECTED = 'a whole number from 0 to 18446744073709551615';

/** Parses/validates a user seed ('42', 42, 2n**40n) into a canonical decimal string; UserError('bad_input') for negatives, non-integers, ≥ 2^64. */
export function normalizeSeed(seed: bigint | number | string): string {
  return seedToBigInt(seed).toString();
}

/** The validated seed as a bigint in [0, 2^64). */
export function seedToBigInt(seed: bigint | number | string): bigint {
  const value = parseSeed(seed);
  if (value < 0n || value >= SEED_LIMIT) throw badSeed(seed);
  return value;
}

function parseSeed(seed: bigint | number | string): bigint {
  if (typeof seed === 'bigint') return seed;
  if (typeof seed === 'number') {
    if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 64) throw badSeed(seed);
    // Above 2^53 a number may already have been rounded, so it may not be the seed the user meant.
    if (!Number.isSafeInteger(seed)) {
      throw new UserError('bad_input', `Seed ${seed} is too large to be exact as a number; give it as text (${EXPECTED}).`);
    }
    return BigInt(seed);
  }
  const text = seed.trim();
  if (!/^[0-9]+$/.test(text)) throw badSeed(seed);
  return BigInt(text);
}

function badSeed(seed: bigint | number | string): UserError {
  const shown = typeof seed === 'string' ? JSON.stringify(seed) : String(seed);
  return new UserError('bad_input', `Seed ${shown} is not valid: expected ${EXPECTED}.`);
}

/** A fresh random seed (decimal string) for when the user gives none: crypto-random, below 2^53 so it stays readable. */
export function randomSeed(): string {
  const bytes = randomBytes(8);
  const high21 = bytes.readUInt32BE(0) & 0x1fffff;
  const low32 = bytes.readUInt32BE(4);
  return String(high21 * 2 ** 32 + low32);
}
