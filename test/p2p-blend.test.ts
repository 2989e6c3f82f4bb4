/** LocalBlend: the mask pipeline on synthetic maps, the reference's masks, and the latent blend (invariants 20–22). */
import { describe, expect, test } from '@jest/globals';
import { readNpyFloat32 } from '../src/engine/npy.js';
import {
  blendMasksFromWordMaps,
  LocalBlend,
  maxPool3x3,
  normalizeByMax,
  resizeNearest,
  unionMasks,
  type LayerMaps,
} from '../src/p2p/blend.js';
import { referencePath } from './helpers.js';
import { randomArray, seededRandom } from './p2p-helpers.js';

/** A [h, w] map of `base` with the listed pixels set to `hot`. */
function spotMap(h: number, w: number, base: number, hot: number, pixels: [number, number][]): Float32Array {
  const m = new Float32Array(h * w).fill(base);
  for (const [y, x] of pixels) m[y * w + x] = hot;
  return m;
}
/** 0/1 mask [h, w] of a rectangle [y0, y1) × [x0, x1), OR-ed over rectangles. */
function rectMask(h: number, w: number, rects: [number, number, number, number][]): Uint8Array {
  const m = new Uint8Array(h * w);
  for (const [y0, y1, x0, x1] of rects) for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) m[y * w + x] = 1;
  return m;
}

describe('mask pipeline', () => {
  test('3×3 max-pool with stride 1 and padding 1 dilates a spot', () => {
    const pooled = maxPool3x3(spotMap(4, 4, 0, 1, [[0, 0], [3, 3]]), 1, 4, 4);
    expect(Array.from(pooled)).toEqual(Array.from(rectMask(4, 4, [[0, 2, 0, 2], [2, 4, 2, 4]])));
    expect(Array.from(maxPool3x3(Float32Array.of(-3, -1, -2, -5), 1, 2, 2))).toEqual([-1, -1, -1, -1]); // padding never wins
  });

  test('nearest resize reads floor(d·in/out)', () => {
    expect(Array.from(resizeNearest(Float32Array.of(1, 2, 3, 4), 1, 2, 2, 4, 4))).toEqual([1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4]);
    expect(Array.from(resizeNearest(Float32Array.of(1, 2, 3), 1, 1, 3, 1, 4))).toEqual([1, 1, 2, 3]);
  });

  test('normalisation by the row maximum; an all-zero row (no blend words) stays zero', () => {
    expect(Array.from(normalizeByMax(Float32Array.of(1, 4, 0, 0), 2))).toEqual([0.25, 1, 0, 0]);
  });

  test('masks from word maps: pooled, resized, thresholded, united with the source (any number of rows)', () => {
    const maps = Float32Array.from([
      ...spotMap(4, 4, 1, 5, [[0, 0]]), // source: hot top-left
      ...spotMap(4, 4, 1, 5, [[3, 3]]), // edit 1: hot bottom-right
      ...new Float32Array(16), // edit 2: no word tokens
    ]);
    const { normalized, masks } = blendMasksFromWordMaps(maps, 3, { height: 4, width: 4 }, { height: 8, width: 8 });
    expect(normalized.length).toBe(3 * 64);
    expect(Math.max(...normalized.subarray(0, 64))).toBe(1);
    expect(normalized.subarray(128).every((v) => v === 0)).toBe(true);
    const sourceRegion: [number, number, number, number] = [0, 4, 0, 4];
    expect(masks.subarray(0, 64)).toEqual(rectMask(8, 8, [sourceRegion, [4, 8, 4, 8]]));
    expect(masks.subarray(64)).toEqual(rectMask(8, 8, [sourceRegion]));
  });
});

describe('reference local-blend records', () => {
  test.each([
    ['replace_localblend_512_cat_dog', 64, 16],
    ['replace_localblend_cat_dog', 32, 16],
  ])('%s: masks = union of normalised maps > 0.3; maps are nearest upsamplings', (id, size, mapSize) => {
    const normalized = readNpyFloat32(referencePath(`p2p/${id}_lb_normalized_map.npy`));
    const masks = readNpyFloat32(referencePath(`p2p/${id}_lb_mask.npy`));
    const [calls, rows] = normalized.shape;
    const hw = size * size;
    const step = size / mapSize;
    for (let c = 0; c < calls; c++) {
      const norm = normalized.data.subarray(c * rows * hw, (c + 1) * rows * hw);
      expect(Array.from(unionMasks(norm, rows, 0.3))).toEqual(Array.from(masks.data.subarray(c * hw, (c + 1) * hw)));
      // resample the reference's own map grid and upsample it again with our resize
      const grid = Float32Array.from({ length: rows * mapSize * mapSize }, (_, i) => {
        const r = Math.floor(i / (mapSize * mapSize));
        const y = Math.floor(i / mapSize) % mapSize;
        return norm[r * hw + y * step * size + (i % mapSize) * step];
      });
      expect(resizeNearest(grid, rows, mapSize, mapSize, size, size)).toEqual(norm);
    }
  });
});

const K = 5;
const LATENT = 8;
const C = 4;
const LATENT_SIZE = C * LATENT * LATENT;
/** Level 1 of an 8×8 latent: 4×4 maps, so a spot dilated by the 3×3 pool stays a quarter of the image. */
const LEVEL = 1;
const Q = 16;

/** Layer maps [rows, Q, K] of `base` with `value` at (row, query, token) for each spot. */
function layer(rows: number, spots: [row: number, q: number, token: number, value: number][], base = 0.01, level = LEVEL): LayerMaps {
  const q = level === LEVEL ? Q : 4;
  const data = new Float32Array(rows * q * K).fill(base);
  for (const [r, query, t, v] of spots) data[(r * q + query) * K + t] = v;
  return { level, q, data };
}

/** Per edit row, per latent pixel: 1 where every channel was replaced by the source's, else 0. */
function tookSource(before: Float32Array, after: Float32Array, rows: number): number[][] {
  const pixels = LATENT * LATENT;
  const out: number[][] = [];
  for (let r = 1; r < rows; r++) {
    const took: number[] = [];
    for (let p = 0; p < pixels; p++) {
      let all = true;
      for (let c = 0; c < C; c++) all &&= after[r * LATENT_SIZE + c * pixels + p] === before[c * pixels + p];
      took.push(all ? 1 : 0);
    }
    out.push(took);
  }
  return out;
}
const TOP_LEFT: [number, number, number, number] = [0, 4, 0, 4];
const BOTTOM_RIGHT: [number, number, number, number] = [4, 8, 4, 8];
const outside = (mask: Uint8Array): number[] => Array.from(mask, (m) => 1 - m);

describe('LocalBlend', () => {
  const latents3 = randomArray(3 * LATENT_SIZE, seededRandom(3));

  test('threshold < 0 keeps every latent; threshold ≥ 1 gives every edit row the source (invariants 20, 21)', () => {
    const maps = [layer(3, [[0, 0, 1, 0.9], [1, 15, 2, 0.9], [2, 5, 3, 0.9]])];
    const open = new LocalBlend([[1], [2], [3]], K, { level: LEVEL, threshold: -1 });
    open.addMaps(maps);
    expect(open.apply(latents3, LATENT_SIZE, LATENT, LATENT)).toEqual(latents3);
    const closed = new LocalBlend([[1], [2], [3]], K, { level: LEVEL, threshold: 1 });
    closed.addMaps(maps);
    const out = closed.apply(latents3, LATENT_SIZE, LATENT, LATENT);
    for (let r = 0; r < 3; r++) expect(out.subarray(r * LATENT_SIZE, (r + 1) * LATENT_SIZE)).toEqual(latents3.subarray(0, LATENT_SIZE));
  });

  test('each edit row keeps its latents inside (source region ∪ its own), takes the source elsewhere; other levels ignored', () => {
    const blend = new LocalBlend([[1], [2], [3]], K, { level: LEVEL });
    const spots = layer(3, [
      [0, 0, 1, 1], // source word at map (0, 0)
      [1, 15, 2, 1], // edit 1 word at map (3, 3)
      [2, 15, 1, 1], // edit 2: a spot in a column that is not its word → no effect
    ]);
    blend.addMaps([spots, layer(3, [[0, 3, 1, 100]], 0.01, 2)]);
    const out = blend.apply(latents3, LATENT_SIZE, LATENT, LATENT);
    expect(out.subarray(0, LATENT_SIZE)).toEqual(latents3.subarray(0, LATENT_SIZE));
    const edit1Region = rectMask(8, 8, [TOP_LEFT, BOTTOM_RIGHT]);
    const [took1, took2] = tookSource(latents3, out, 3);
    expect(took1).toEqual(outside(edit1Region));
    // edit 2's word map is flat (normalised to 1 everywhere), so its region is the whole latent
    expect(took2.every((t) => t === 0)).toBe(true);
    expect(blend.lastMasks?.masks.subarray(0, 64)).toEqual(edit1Region);
  });

  test('maps are a running sum over calls, averaged over the layers of the level', () => {
    const blend = new LocalBlend([[1], [1]], K, { level: LEVEL });
    // a second, empty layer at the level halves the mean, which the normalisation cancels
    const call = (sourceQuery: number): LayerMaps[] => [layer(2, [[0, sourceQuery, 1, 1], [1, 0, 1, 1]], 0), layer(2, [], 0)];
    blend.addMaps(call(0));
    blend.addMaps(call(15)); // the source's first-call spot must still count
    const latents = latents3.subarray(0, 2 * LATENT_SIZE);
    const [took] = tookSource(latents, blend.apply(latents, LATENT_SIZE, LATENT, LATENT), 2);
    expect(took).toEqual(outside(rectMask(8, 8, [TOP_LEFT, BOTTOM_RIGHT])));
  });

  test('no blending before startCall', () => {
    const blend = new LocalBlend([[1], [2]], K, { level: LEVEL, threshold: 1, startCall: 1 });
    const latents = latents3.subarray(0, 2 * LATENT_SIZE);
    blend.addMaps([layer(2, [])]);
    expect(blend.apply(latents, LATENT_SIZE, LATENT, LATENT)).toEqual(latents);
    blend.addMaps([layer(2, [])]);
    expect(blend.apply(latents, LATENT_SIZE, LATENT, LATENT).subarray(LATENT_SIZE)).toEqual(latents.subarray(0, LATENT_SIZE));
  });

  test('a re-edit with the source from the store matches the in-batch blend', () => {
    const random = seededRandom(11);
    // small random maps with one word spot per row (source top-left, edit 1 bottom-right, edit 2 top-right)
    const spots: [number, number, number][] = [[0, 0, 1], [1, 15, 3], [2, 3, 4]];
    const calls = [0, 1].map(() =>
      [0, 1].map(() => {
        const l = layer(3, []);
        const data = randomArray(l.data.length, random).map((v) => v * 0.1);
        for (const [r, q, t] of spots) data[(r * Q + q) * K + t] = 1;
        return { ...l, data };
      }),
    );
    const options = { level: LEVEL };
    const inBatch = new LocalBlend([[1], [2, 3], [4]], K, options);
    const reEdit = new LocalBlend([[1], [2, 3], [4]], K, { ...options, sourceInBatch: false });
    for (const maps of calls) {
      inBatch.addMaps(maps);
      const sourceMap = new Float32Array(Q * K);
      for (const m of maps) m.data.subarray(0, Q * K).forEach((v, i) => (sourceMap[i] += v / maps.length));
      reEdit.addMaps(maps.map((m) => ({ ...m, data: m.data.slice(Q * K) })), sourceMap);
    }
    const expected = inBatch.apply(latents3, LATENT_SIZE, LATENT, LATENT);
    const got = reEdit.apply(latents3.slice(LATENT_SIZE), LATENT_SIZE, LATENT, LATENT, latents3.subarray(0, LATENT_SIZE));
    expect(got).toEqual(expected.subarray(LATENT_SIZE));
    expect(reEdit.lastMasks?.masks).toEqual(inBatch.lastMasks?.masks);
    expect(inBatch.lastMasks?.masks.some((m) => m === 0)).toBe(true); // the threshold really cut something
  });

  test('the map size must match the level of the latent', () => {
    const blend = new LocalBlend([[1], [1]], K, { level: LEVEL });
    blend.addMaps([layer(2, [])]);
    expect(() => blend.apply(latents3.subarray(0, 2 * 4 * 16 * 16), 4 * 16 * 16, 16, 16)).toThrow(/queries/);
  });
});
