/** Photo preprocessing (sharp): orientation, transparency, colour spaces, crop and size, and refused input. */
import { describe, expect, test } from '@jest/globals';
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { checkPhoto, MAX_PHOTO_PIXELS, photoSize, preparePhoto } from '../src/engine/photo.js';
import { SIZE_RANGE } from '../src/engine/limits.js';
import { decodePng } from './engine-helpers.js';
import { referencePath } from './helpers.js';
import { pngHeaderOnly } from './photo-helpers.js';

/** A solid-colour or raw RGB(A) image as an encoded file. */
const raw = (data: Uint8Array, width: number, height: number, channels: 3 | 4): sharp.Sharp => sharp(data, { raw: { width, height, channels } });

function halves(width: number, height: number, left: number[], right: number[]): Uint8Array {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) data.set(x < width / 2 ? left : right, (y * width + x) * 3);
  }
  return data;
}

const pixelAt = (image: { data: Uint8Array; width: number }, x: number, y: number): number[] =>
  Array.from(image.data.subarray((y * image.width + x) * 3, (y * image.width + x) * 3 + 3));

describe('preparePhoto', () => {
  test('a reference photo at its own size comes out pixel for pixel, mapped to x/127.5 − 1', async () => {
    const file = referencePath('inversion/photo_256x192.png');
    const photo = await preparePhoto(readFileSync(file));
    const reference = await decodePng(file);
    expect([photo.width, photo.height]).toEqual([256, 192]);
    expect(photo.image.data).toEqual(new Uint8Array(reference.data));
    const count = 256 * 192;
    for (const p of [0, 1000, count - 1]) {
      for (let c = 0; c < 3; c++) expect(photo.pixels[c * count + p]).toBe(Math.fround(Math.fround(reference.data[3 * p + c] / 127.5) - 1));
    }
    expect(photo.pixels.every((x) => x >= -1 && x <= 1)).toBe(true);
  });

  test('the EXIF orientation is applied (6: turned 90° clockwise for display)', async () => {
    // Stored landscape: left half red, right half blue. Displayed turned clockwise: red on top, blue below.
    const stored = await raw(halves(96, 64, [255, 0, 0], [0, 0, 255]), 96, 64, 3).withMetadata({ orientation: 6 }).jpeg({ quality: 100 }).toBuffer();
    expect(await checkPhoto(stored)).toEqual({ format: 'jpeg', width: 64, height: 96 });
    const photo = await preparePhoto(stored);
    expect([photo.width, photo.height]).toEqual([64, 96]);
    const top = pixelAt(photo.image, 32, 10);
    const bottom = pixelAt(photo.image, 32, 85);
    expect(top[0]).toBeGreaterThan(200);
    expect(top[2]).toBeLessThan(60);
    expect(bottom[2]).toBeGreaterThan(200);
    expect(bottom[0]).toBeLessThan(60);
  });

  test('transparency is flattened onto white', async () => {
    const data = new Uint8Array(64 * 64 * 4); // fully transparent black
    for (let p = 0; p < 64 * 32; p++) data.set([0, 0, 0, 255], p * 4); // top half opaque black
    const photo = await preparePhoto(await raw(data, 64, 64, 4).png().toBuffer());
    expect(pixelAt(photo.image, 10, 10)).toEqual([0, 0, 0]);
    expect(pixelAt(photo.image, 10, 50)).toEqual([255, 255, 255]);
  });

  test('centre-crop to the requested aspect, then resize', async () => {
    // 256×128: black quarter, grey middle half, white quarter. A 128×128 output is the middle half, all grey.
    const data = new Uint8Array(256 * 128 * 3);
    for (let y = 0; y < 128; y++) {
      for (let x = 0; x < 256; x++) data.fill(x < 64 ? 0 : x < 192 ? 128 : 255, (y * 256 + x) * 3, (y * 256 + x) * 3 + 3);
    }
    const png = await raw(data, 256, 128, 3).png().toBuffer();
    const square = await preparePhoto(png, { width: 128, height: 128 });
    expect(new Set(square.image.data)).toEqual(new Set([128]));
    // Only the width given: the height follows the aspect (128 → 64), nothing is cropped.
    const half = await preparePhoto(png, { width: 128 });
    expect([half.width, half.height]).toEqual([128, 64]);
    expect(pixelAt(half.image, 2, 32)[0]).toBeLessThan(20);
    expect(pixelAt(half.image, 125, 32)[0]).toBeGreaterThan(235);
  });

  test('16-bit and CMYK files are converted to 8-bit sRGB', async () => {
    const grey16 = await sharp({ create: { width: 64, height: 64, channels: 3, background: { r: 200, g: 100, b: 50 } } })
      .toColourspace('rgb16')
      .png()
      .toBuffer();
    expect((await sharp(grey16).metadata()).depth).toBe('ushort');
    const from16 = await preparePhoto(grey16);
    for (const [got, want] of pixelAt(from16.image, 5, 5).map((v, i) => [v, [200, 100, 50][i]])) expect(Math.abs(got - want)).toBeLessThanOrEqual(1);

    const cmyk = await sharp({ create: { width: 64, height: 64, channels: 3, background: { r: 220, g: 30, b: 30 } } })
      .toColourspace('cmyk')
      .jpeg({ quality: 100 })
      .toBuffer();
    expect((await sharp(cmyk).metadata()).space).toBe('cmyk');
    const [r, g, b] = pixelAt((await preparePhoto(cmyk)).image, 32, 32);
    expect(r).toBeGreaterThan(170);
    expect(g).toBeLessThan(80);
    expect(b).toBeLessThan(80);
  });

  test('a bad size request is refused with the limits', async () => {
    const png = await sharp({ create: { width: 64, height: 64, channels: 3, background: 'grey' } }).png().toBuffer();
    await expect(preparePhoto(png, { width: 100, height: 64 })).rejects.toMatchObject({ code: 'bad_input', message: expect.stringContaining('multiple of 8') });
    await expect(preparePhoto(png, { width: 4096, height: 64 })).rejects.toMatchObject({ code: 'bad_input' });
  });
});

describe('photoSize (no size given)', () => {
  test.each([
    [256, 192, 256, 192],
    [4000, 3000, 584, 440],
    [3000, 4000, 440, 584],
    [40, 40, 64, 64],
    [515, 300, 512, 296],
  ])('%i×%i → %i×%i', (w, h, ew, eh) => {
    const size = photoSize(w, h);
    expect(size).toEqual({ width: ew, height: eh });
    expect(size.width % 8 + (size.height % 8)).toBe(0);
    expect(size.width * size.height).toBeLessThanOrEqual(Math.max(512 * 512, SIZE_RANGE.min ** 2));
  });
});


describe('refused input, each with its own message', () => {
  test('not an image', async () => {
    await expect(checkPhoto(Buffer.from('hello, this is text'))).rejects.toMatchObject({ code: 'bad_input', message: expect.stringContaining('not an image') });
    await expect(preparePhoto(new Uint8Array(0))).rejects.toMatchObject({ code: 'bad_input' });
  });

  test('1×1', async () => {
    const tiny = await sharp({ create: { width: 1, height: 1, channels: 3, background: 'red' } }).png().toBuffer();
    await expect(preparePhoto(tiny)).rejects.toMatchObject({ code: 'bad_input', message: expect.stringContaining('too small') });
  });

  test('20000×20000, refused from the header alone', async () => {
    const huge = pngHeaderOnly(20000, 20000);
    expect(20000 * 20000).toBeGreaterThan(MAX_PHOTO_PIXELS);
    await expect(checkPhoto(huge)).rejects.toMatchObject({ code: 'bad_input', message: expect.stringContaining('too large') });
    await expect(preparePhoto(huge)).rejects.toMatchObject({ code: 'bad_input', message: expect.stringContaining('20000×20000') });
  });

  test('animated', async () => {
    const frame = (background: string): Promise<Buffer> => sharp({ create: { width: 64, height: 64, channels: 3, background } }).png().toBuffer();
    const gif = await sharp([await frame('red'), await frame('blue')], { join: { animated: true } }).gif().toBuffer();
    expect((await sharp(gif).metadata()).pages).toBe(2);
    await expect(preparePhoto(gif)).rejects.toMatchObject({ code: 'bad_input', message: expect.stringContaining('animated') });
  });
});
