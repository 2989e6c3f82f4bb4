/** The attention store: byte accounting, the budget, LRU eviction and its statistics. */
import { describe, expect, test } from '@jest/globals';
import { AttentionStore, typedArrayBytes, type SourceTrace } from '../src/p2p/store.js';

function trace(calls: number, floatsPerCall: number): SourceTrace {
  return {
    prompt: 'a cat riding a bicycle',
    blendLevel: 2,
    latentHeight: 8,
    latentWidth: 8,
    perCall: Array.from({ length: calls }, () => ({
      probs: [new Float32Array(floatsPerCall), null, new Float32Array(floatsPerCall)],
      blendMap: new Float32Array(10),
      latents: new Float32Array(256),
    })),
  };
}

describe('typedArrayBytes', () => {
  test('sums every typed array in a source trace', () => {
    expect(typedArrayBytes(trace(3, 100))).toBe(3 * 4 * (100 + 100 + 10 + 256));
    expect(typedArrayBytes({ a: [new Uint8Array(3), { b: new Float64Array(2) }], c: 'text', d: 5 })).toBe(3 + 16);
  });
});

describe('AttentionStore', () => {
  const bytesOf = (floats: number): number => typedArrayBytes(trace(1, floats));

  test('least recently used entries go first when the budget is exceeded', () => {
    const size = bytesOf(100);
    const store = new AttentionStore({ budgetBytes: 2 * size + 10 });
    expect(store.set('a', trace(1, 100))).toBe(true);
    expect(store.set('b', trace(1, 100))).toBe(true);
    expect(store.get('a')).toBeDefined(); // a becomes the most recent
    expect(store.set('c', trace(1, 100))).toBe(true); // evicts b
    expect([store.has('a'), store.has('b'), store.has('c')]).toEqual([true, false, true]);
    expect(store.get('b')).toBeUndefined();
    expect(store.stats()).toEqual({ entries: 2, bytes: 2 * size, hits: 1, misses: 1, evictions: 1 });
  });

  test('a large entry evicts as many as needed; one larger than the budget is not stored', () => {
    const small = bytesOf(10);
    const store = new AttentionStore({ budgetBytes: 4 * small });
    for (const key of ['a', 'b', 'c', 'd']) store.set(key, trace(1, 10));
    expect(store.stats().bytes).toBe(4 * small);
    const big = trace(1, 100);
    expect(typedArrayBytes(big)).toBeGreaterThan(small); // so it needs two evictions
    expect(typedArrayBytes(big)).toBeLessThanOrEqual(2 * small);
    expect(store.set('big', big)).toBe(true);
    expect([..."abcd"].map((k) => store.has(k))).toEqual([false, false, true, true]);
    expect(store.stats().evictions).toBe(2);
    expect(store.set('huge', trace(1, 4 * small))).toBe(false);
    expect(store.has('huge')).toBe(false);
    expect(store.stats().bytes).toBe(typedArrayBytes(big) + 2 * small);
  });

  test('setting a key again replaces it and its bytes; delete and clear free them', () => {
    const store = new AttentionStore({ budgetBytes: 1e6 });
    store.set('a', trace(2, 100));
    store.set('a', trace(1, 100));
    expect(store.stats()).toMatchObject({ entries: 1, bytes: bytesOf(100) });
    expect(store.delete('a')).toBe(true);
    expect(store.delete('a')).toBe(false);
    store.set('b', trace(1, 1));
    store.clear();
    expect(store.stats()).toMatchObject({ entries: 0, bytes: 0 });
  });

  test('a custom size function and value type', () => {
    const store = new AttentionStore<string>({ budgetBytes: 10, sizeOf: (s) => s.length });
    store.set('x', 'hello');
    store.set('y', 'world');
    store.set('z', '!');
    expect([store.has('x'), store.has('y'), store.has('z')]).toEqual([false, true, true]);
    expect(store.stats().bytes).toBe(6);
    expect(() => new AttentionStore({ budgetBytes: -1 })).toThrow(/budget/);
  });
});
