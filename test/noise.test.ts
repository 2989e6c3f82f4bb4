import { describe, test, expect } from '@jest/globals';
import { TorchGenerator, normalizeSeed, randomSeed } from '../src/engine/noise.js';
import { Mt19937 } from '../src/engine/noise/mt19937.js';
import { readNpyFloat32 } from '../src/engine/npy.js';
import { isUserError } from '../src/engine/errors.js';
import { maxAbsDiff, referenceCases, referencePath } from './helpers.js';

interface NoiseCall {
  shape: number[];
  file: string;
}
interface NoiseCase {
  id: string;
  seed: number;
  calls: NoiseCall[];
}

const noiseCases = referenceCases<{ noise: { cases: NoiseCase[] } }>().noise.cases;
/** Stated in models/tiny-sd15/README.md: float math cannot be bit-exact with torch's vectorised kernels. */
const TOLERANCE = 2e-6;

const concat = (parts: Float32Array[]): Float32Array => {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
};

describe('TorchGenerator matches torch.randn on a seeded CPU generator', () => {
  test.each(noiseCases.map((c) => [c.id, c] as const))('%s', (_id, noiseCase) => {
    const generator = new TorchGenerator(noiseCase.seed);
    for (const call of noiseCase.calls) {
      const expected = readNpyFloat32(referencePath(call.file));
      expect(expected.shape).toEqual(call.shape);
      const actual = generator.randn(call.shape);
      expect(actual.length).toBe(expected.data.length);
      expect(maxAbsDiff(actual, expected.data)).toBeLessThanOrEqual(TOLERANCE);
    }
  });

  test('seeds are taken modulo 2^32, so 2^32 + 7 draws the same as 7', () => {
    const shape = [1, 4, 8, 8];
    const a = new TorchGenerator(7).randn(shape);
    const b = new TorchGenerator(2n ** 32n + 7n).randn(shape);
    const c = new TorchGenerator('4294967303').randn(shape);
    expect(b).toEqual(a);
    expect(c).toEqual(a);
    expect(new TorchGenerator(8).randn(shape)).not.toEqual(a);
  });

  test('small draws share one stream across calls: the cached second normal survives between calls', () => {
    // 7 is odd, so the first call leaves the sine half of its last pair cached for the second call.
    const whole = new TorchGenerator(5);
    const split = new TorchGenerator(5);
    const expected = concat([whole.randn([15]), whole.randn([1])]);
    const actual = concat([split.randn([7]), split.randn([8]), split.randn([1])]);
    expect(actual).toEqual(expected);
  });

  test('an empty shape draws nothing and leaves the stream where it was', () => {
    const fresh = new TorchGenerator(3).randn([2, 16]);
    const generator = new TorchGenerator(3);
    expect(generator.randn([0, 4])).toHaveLength(0);
    expect(generator.randn([2, 16])).toEqual(fresh);
  });

  test('rejects shapes that are not lists of non-negative integers', () => {
    const generator = new TorchGenerator(0);
    expect(() => generator.randn([2, -1])).toThrow(RangeError);
    expect(() => generator.randn([1.5])).toThrow(RangeError);
  });
});

describe('Mt19937', () => {
  test('matches the reference generator: the 10000th output for the default seed 5489 is 4123659995', () => {
    // The value the C++ standard requires of std::mt19937 ([rand.predef]).
    const engine = new Mt19937(5489);
    let value = 0;
    for (let i = 0; i < 10000; i++) value = engine.nextUint32();
    expect(value).toBe(4123659995);
  });
});

describe('normalizeSeed', () => {
  const expectBadInput = (seed: bigint | number | string): void => {
    let caught: unknown;
    try {
      normalizeSeed(seed);
    } catch (e) {
      caught = e;
    }
    expect(isUserError(caught)).toBe(true);
    expect((caught as { code: string }).code).toBe('bad_input');
  };

  test('accepts numbers, bigints and decimal strings, giving canonical decimal text', () => {
    expect(normalizeSeed(42)).toBe('42');
    expect(normalizeSeed('42')).toBe('42');
    expect(normalizeSeed(' 0042 ')).toBe('42');
    expect(normalizeSeed(0)).toBe('0');
    expect(normalizeSeed(2n ** 40n)).toBe('1099511627776');
    expect(normalizeSeed(Number.MAX_SAFE_INTEGER)).toBe('9007199254740991');
  });

  test('accepts 20-digit strings up to 2^64 - 1', () => {
    expect(normalizeSeed('18446744073709551615')).toBe('18446744073709551615');
    expect(normalizeSeed(2n ** 64n - 1n)).toBe('18446744073709551615');
    expect(normalizeSeed('10000000000000000000')).toBe('10000000000000000000');
  });

  test.each([
    ['-1', '-1'],
    ['1.5', '1.5'],
    ['abc', 'abc'],
    ['empty text', ''],
    ['1e3', '1e3'],
    ['2^64 as text', '18446744073709551616'],
    ['2^64 as bigint', 2n ** 64n],
    ['2^64 as number', 2 ** 64],
    ['negative number', -1],
    ['negative bigint', -1n],
    ['fractional number', 1.5],
    ['NaN', Number.NaN],
    ['an inexact number above 2^53', 2 ** 60],
  ] as const)('rejects %s with UserError bad_input', (_label, seed) => {
    expectBadInput(seed);
  });
});

describe('randomSeed', () => {
  test('gives decimal seeds below 2^53 that normalizeSeed keeps as they are', () => {
    const seeds = Array.from({ length: 50 }, () => randomSeed());
    for (const seed of seeds) {
      expect(normalizeSeed(seed)).toBe(seed);
      expect(BigInt(seed) < 2n ** 53n).toBe(true);
    }
    expect(new Set(seeds).size).toBeGreaterThan(45);
  });
});
