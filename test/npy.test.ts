import { describe, expect, test } from '@jest/globals';
import { encodeNpyFloat32, parseNpy, readNpy } from '../src/engine/npy.js';
import { fixturePath } from './helpers.js';

describe('npy', () => {
  test('round-trips float32 and reads the reference files', () => {
    const data = Float32Array.from([1, -2.5, 3e-7, 4]);
    const back = parseNpy(encodeNpyFloat32(data, [2, 2]));
    expect(back.shape).toEqual([2, 2]);
    expect(Array.from(back.data as Float32Array)).toEqual(Array.from(data));
    const ids = readNpy(fixturePath('reference/tokenizer/input_ids_padded.npy'));
    expect(ids.dtype).toBe('int64');
    expect(ids.shape).toEqual([25, 77]);
    expect((ids.data as BigInt64Array)[0]).toBe(49406n);
  });

  test('a file cut short is an error naming the missing bytes, not a bad typed-array length', () => {
    const whole = encodeNpyFloat32(Float32Array.from([1, 2, 3]), [3]);
    expect(() => parseNpy(whole.subarray(0, whole.length - 4))).toThrow(/truncated \.npy: shape \(3\) needs 12 data bytes, the file has 8/);
  });
});
