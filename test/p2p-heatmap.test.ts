/** Attention heat maps: the accumulator's mean and the labelled PNG grid from the reference attention maps. */
import { describe, expect, test } from '@jest/globals';
import sharp from 'sharp';
import { readNpyFloat32 } from '../src/engine/npy.js';
import {
  AttentionAccumulator,
  heatmapGridLayout,
  heatmapTile,
  promptTokenLabels,
  renderHeatmapGrid,
  systemFontsRender,
  tileShape,
} from '../src/p2p/heatmap.js';
import { referenceCases, referencePath } from './helpers.js';
import { loadTokenizer, randomArray, seededRandom } from './p2p-helpers.js';

interface AttentionMapCase {
  prompt: string;
  token_ids: number[];
  maps: Record<string, { file: { file: string; shape: number[] } }>;
}

async function decode(png: Uint8Array): Promise<{ data: Uint8Array; width: number; height: number; channels: number }> {
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data), width: info.width, height: info.height, channels: info.channels };
}

/** Pixels of a rectangle of an RGB(A) image as RGB. */
function crop(img: { data: Uint8Array; width: number; channels: number }, x: number, y: number, w: number, h: number): Uint8Array {
  const out = new Uint8Array(w * h * 3);
  for (let row = 0; row < h; row++) {
    for (let col = 0; col < w; col++) {
      for (let c = 0; c < 3; c++) out[(row * w + col) * 3 + c] = img.data[((y + row) * img.width + x + col) * img.channels + c];
    }
  }
  return out;
}
const inkPixels = (rgb: Uint8Array): number => {
  let n = 0;
  for (let i = 0; i < rgb.length; i += 3) if (rgb[i] + rgb[i + 1] + rgb[i + 2] < 3 * 128) n++;
  return n;
};

describe('AttentionAccumulator', () => {
  test('mean over heads, layers and calls, per level', () => {
    const acc = new AttentionAccumulator();
    const random = seededRandom(5);
    const maps = [0, 1, 2].map(() => randomArray(2 * 6, random)); // 3 adds of [2 heads, Q·K = 6]
    maps.forEach((m) => acc.add(1, m, 2));
    acc.add(2, Float32Array.of(1, 2, 3, 4));
    const expected = Array.from({ length: 6 }, (_, i) => maps.reduce((s, m) => s + m[i] + m[6 + i], 0) / 6);
    const mean = acc.mean(1);
    expected.forEach((v, i) => expect(mean[i]).toBeCloseTo(v, 6));
    expect(Array.from(acc.mean(2))).toEqual([1, 2, 3, 4]);
    expect(acc.levels()).toEqual([1, 2]);
    expect(() => acc.add(1, new Float32Array(4))).toThrow(/values/);
    expect(() => acc.mean(0)).toThrow(/no maps/);
  });
});

describe('renderHeatmapGrid', () => {
  const { attention_map: ref } = referenceCases<{ attention_map: AttentionMapCase }>();

  const fonts = ['bitmap', 'system'] as const;
  test.each(fonts)('reference maps → one labelled tile per prompt token (%s font)', async (font) => {
    if (font === 'system' && !(await systemFontsRender())) return; // no system font here: the bitmap case covers labels
    const tok = await loadTokenizer();
    const tokens = promptTokenLabels(ref.prompt, tok);
    expect(tokens).toEqual(ref.token_ids.slice(1, -1).map((id) => tok.decodeToken(id)));
    expect(tokens).toEqual(['a', 'cat', 'riding', 'a', 'bicycle']);
    const maps = readNpyFloat32(referencePath(ref.maps['8'].file.file));
    expect(maps.shape).toEqual([8, 8, 77]);
    const png = await renderHeatmapGrid({ maps: maps.data, h: 8, w: 8, tokens, tileSize: 64, font });
    const img = await decode(png);
    const tile = tileShape(8, 8, 64);
    const layout = heatmapGridLayout(tokens.length, tile, 8);
    expect([img.width, img.height, img.channels]).toEqual([layout.width, layout.height, 3]);
    expect(layout.origins.length).toBe(5);
    layout.origins.forEach(({ x, y }, i) => {
      expect(crop(img, x, y, tile.width, tile.height)).toEqual(heatmapTile(maps.data, 8, 8, i + 1, tile));
      expect(inkPixels(crop(img, x, y + tile.height, tile.width, layout.labelHeight))).toBeGreaterThanOrEqual(5);
    });
    expect(crop(img, 0, 0, 2, img.height).every((v) => v === 255)).toBe(true); // margin
  });

  test('a tile is the token map divided by its maximum: the hottest pixel is the top of the ramp', () => {
    const maps = new Float32Array(2 * 2 * 3);
    maps[1 * 3 + 1] = 0.5; // token 1 peaks at pixel 1
    maps[2 * 3 + 1] = 0.25;
    const tile = heatmapTile(maps, 2, 2, 1, { width: 2, height: 2 });
    expect(Array.from(tile.subarray(3, 6))).toEqual([252, 255, 164]);
    expect(Array.from(tile.subarray(0, 3))).toEqual([0, 0, 4]);
    expect(Array.from(tile.subarray(6, 9))).toEqual([188, 55, 84]); // 0.5 of the max
  });

  test('overlay: each tile is the 50/50 mix of the heat colour and the image', async () => {
    const maps = readNpyFloat32(referencePath(ref.maps['16'].file.file));
    const image = { width: 32, height: 32, data: new Uint8Array(32 * 32 * 3).fill(100) };
    const tile = tileShape(16, 16, 32);
    const png = await renderHeatmapGrid({ maps: maps.data, h: 16, w: 16, tokens: ['a', 'cat'], image, tileSize: 32, font: 'bitmap' });
    const img = await decode(png);
    const { x, y } = heatmapGridLayout(2, tile, 8).origins[1];
    expect(crop(img, x, y, tile.width, tile.height)).toEqual(heatmapTile(maps.data, 16, 16, 2, tile, new Uint8Array(32 * 32 * 3).fill(100)));
    const plain = heatmapTile(maps.data, 16, 16, 2, tile);
    expect(crop(img, x, y, tile.width, tile.height)).toEqual(plain.map((v) => Math.round((v + 100) / 2)));
  });

  test.each(fonts)('a title line above the tiles says which prompt the grid shows (%s font)', async (font) => {
    if (font === 'system' && !(await systemFontsRender())) return;
    const maps = readNpyFloat32(referencePath(ref.maps['8'].file.file));
    const tile = tileShape(8, 8, 64);
    const plain = await decode(await renderHeatmapGrid({ maps: maps.data, h: 8, w: 8, tokens: ['a', 'cat'], tileSize: 64, font }));
    const titled = await decode(await renderHeatmapGrid({ maps: maps.data, h: 8, w: 8, tokens: ['a', 'cat'], tileSize: 64, font, title: 'Attention of: a cat' }));
    const layout = heatmapGridLayout(2, tile, 8, true);
    expect(layout.titleHeight).toBeGreaterThan(0);
    expect([titled.width, titled.height]).toEqual([layout.width, layout.height]);
    expect(titled.height).toBe(plain.height + layout.titleHeight);
    // The band holds text; the tiles are the same, moved down under it.
    expect(inkPixels(crop(titled, 0, 0, titled.width, layout.titleHeight + 4))).toBeGreaterThanOrEqual(20);
    expect(inkPixels(crop(plain, 0, 0, plain.width, 4))).toBe(0);
    layout.origins.forEach(({ x, y }, i) => expect(crop(titled, x, y, tile.width, tile.height)).toEqual(heatmapTile(maps.data, 8, 8, i + 1, tile)));
  });

  test('long prompts wrap into rows; too many labels for the maps is an error', async () => {
    const layout = heatmapGridLayout(20, { width: 32, height: 32 }, 8);
    expect(new Set(layout.origins.map((o) => o.y)).size).toBe(3);
    await expect(renderHeatmapGrid({ maps: new Float32Array(4 * 3), h: 2, w: 2, tokens: ['a', 'b', 'c'] })).rejects.toThrow(/do not hold/);
  });
});
