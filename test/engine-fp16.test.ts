import { describe, expect, test } from '@jest/globals';
import { float32ToHalf, fromHalfBits, halfToFloat32, toHalfBits } from '../src/engine/fp16.js';

const isNaNBits = (h: number): boolean => (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;

describe('fp16', () => {
  test('decodes the IEEE half landmarks', () => {
    expect(fromHalfBits(0x3c00)).toBe(1);
    expect(fromHalfBits(0xc000)).toBe(-2);
    expect(fromHalfBits(0x7bff)).toBe(65504);
    expect(fromHalfBits(0x0001)).toBe(2 ** -24);
    expect(fromHalfBits(0x0400)).toBe(2 ** -14);
    expect(fromHalfBits(0x7c00)).toBe(Infinity);
    expect(fromHalfBits(0xfc00)).toBe(-Infinity);
    expect(Object.is(fromHalfBits(0x8000), -0)).toBe(true);
    expect(fromHalfBits(0x7e00)).toBeNaN();
  });

  test('every finite half survives half → number → half', () => {
    for (let h = 0; h < 0x10000; h++) {
      if (isNaNBits(h)) continue;
      const back = toHalfBits(fromHalfBits(h));
      if (back !== h) throw new Error(`0x${h.toString(16)} came back as 0x${back.toString(16)}`);
    }
  });

  test('rounds to nearest with ties to even, between every pair of neighbouring halves', () => {
    // Two neighbouring halves differ in the 11th significant bit, so their midpoint is exact in float32.
    for (let h = 0; h < 0x7bff; h++) {
      const low = fromHalfBits(h);
      const high = fromHalfBits(h + 1);
      const middle = Math.fround((low + high) / 2);
      const even = h % 2 === 0 ? h : h + 1;
      const below = Math.fround(middle - (high - low) / 8);
      const above = Math.fround(middle + (high - low) / 8);
      if (toHalfBits(middle) !== even || toHalfBits(below) !== h || toHalfBits(above) !== h + 1) {
        throw new Error(`rounding around 0x${h.toString(16)} is wrong`);
      }
      if (toHalfBits(-middle) !== (even | 0x8000)) throw new Error(`sign lost around 0x${h.toString(16)}`);
    }
  });

  test('overflow, underflow and NaN', () => {
    expect(toHalfBits(65519)).toBe(0x7bff);
    expect(toHalfBits(65520)).toBe(0x7c00); // the tie between 65504 and 2^16 goes to the even side: infinity
    expect(toHalfBits(1e6)).toBe(0x7c00);
    expect(toHalfBits(-Infinity)).toBe(0xfc00);
    expect(toHalfBits(2 ** -25)).toBe(0); // tie between 0 and the smallest subnormal
    expect(toHalfBits(1e-10)).toBe(0);
    expect(toHalfBits(-1e-10)).toBe(0x8000);
    expect(isNaNBits(toHalfBits(NaN))).toBe(true);
  });

  test('array conversions agree with the scalar ones', () => {
    const values = Float32Array.from([0, 1, -1.5, 0.1, 3.14159, -65504, 1e-5, 7e-8]);
    const half = float32ToHalf(values);
    expect(Array.from(half)).toEqual(Array.from(values, toHalfBits));
    expect(Array.from(halfToFloat32(half))).toEqual(Array.from(half, (h) => Math.fround(fromHalfBits(h))));
  });
});
