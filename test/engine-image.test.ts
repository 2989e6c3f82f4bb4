import { describe, expect, test } from '@jest/globals';
import sharp from 'sharp';
import { encodePng, formatParameters, insertPngText, readPngText, vaeOutputToRgb, type GenerationParameters } from '../src/engine/image.js';
import { readNpyFloat32 } from '../src/engine/npy.js';
import { decodePng, txt2imgCases } from './engine-helpers.js';
import { referencePath } from './helpers.js';

const PARAMETERS: GenerationParameters = {
  prompt: 'a red fox in the snow',
  negativePrompt: 'blurry',
  steps: 20,
  sampler: 'ddim',
  guidance: 7.5,
  seed: '42',
  width: 256,
  height: 256,
  model: 'tiny-sd15',
};

describe('VAE output → RGB', () => {
  test('reproduces diffusers postprocessing byte for byte on the reference decoder output', async () => {
    const astronaut = txt2imgCases().find((c) => c.id === 'pndm_astronaut')!;
    const decoded = readNpyFloat32(referencePath(astronaut.vae_decoder_output!.file));
    const [, , height, width] = decoded.shape;
    const rgb = vaeOutputToRgb(decoded.data, height, width);
    const reference = await decodePng(referencePath(astronaut.image_png));
    expect(rgb.width).toBe(reference.width);
    expect(rgb.height).toBe(reference.height);
    expect(Buffer.from(rgb.data).equals(Buffer.from(reference.data))).toBe(true);
  });

  test('clamps to [0, 255], lays pixels out as RGB, and rounds float32 ties to even', () => {
    // One pixel per column: channel planes R = [-3, 3], G = [0, -1], B = [1, 0.5].
    const rgb = vaeOutputToRgb(Float32Array.from([-3, 3, 0, -1, 1, 0.5]), 1, 2);
    expect(Array.from(rgb.data)).toEqual([0, 128, 255, 255, 0, 191]); // 0.75·255 = 191.25 → 191
    // Find decoder values whose float32 postprocessing lands exactly on n + 0.5 and check they go to the even side.
    let ties = 0;
    // From n = 64 on, unit ≥ 0.25, so unit − 0.5 and its double are exact in float32 and x/2 + 0.5 gives unit back.
    for (let n = 64; n < 255; n++) {
      const unit = Math.fround((n + 0.5) / 255);
      if (Math.fround(unit * 255) !== n + 0.5) continue;
      const x = (unit - 0.5) * 2;
      expect(vaeOutputToRgb(Float32Array.from([x, x, x]), 1, 1).data[0]).toBe(n % 2 === 0 ? n : n + 1);
      ties++;
    }
    expect(ties).toBeGreaterThan(10);
  });
});

describe('PNG parameters chunk', () => {
  test('formats A1111 parameters', () => {
    expect(formatParameters(PARAMETERS)).toBe(
      'a red fox in the snow\nNegative prompt: blurry\nSteps: 20, Sampler: DDIM, CFG scale: 7.5, Seed: 42, Size: 256x256, Model: tiny-sd15',
    );
    const noNegative = formatParameters({ ...PARAMETERS, negativePrompt: '', sampler: 'euler-a', width: 384, extra: { Edit: 'replace' } });
    expect(noNegative).toBe('a red fox in the snow\nSteps: 20, Sampler: Euler a, CFG scale: 7.5, Seed: 42, Size: 384x256, Model: tiny-sd15, Edit: replace');
  });

  test('round-trips through the PNG, and other readers see a valid chunk', async () => {
    const image = { width: 4, height: 2, data: Uint8Array.from({ length: 24 }, (_, i) => i * 10) };
    const text = formatParameters(PARAMETERS);
    const png = await encodePng(image, { parameters: text });
    expect(readPngText(png)).toEqual({ parameters: text });
    // libvips/libspng parse the chunk (and check its CRC) independently of our reader.
    const metadata = await sharp(png).metadata();
    expect(metadata.comments).toEqual([{ keyword: 'parameters', text }]);
    const pixels = await decodePng(png);
    expect(Array.from(pixels.data)).toEqual(Array.from(image.data));
  });

  test('writes prompts outside Latin-1 as UTF-8 iTXt', async () => {
    const image = { width: 1, height: 1, data: Uint8Array.from([1, 2, 3]) };
    const text = formatParameters({ ...PARAMETERS, prompt: 'a café in 東京 🌸' });
    const png = await encodePng(image, { parameters: text, Software: 'reprompt' });
    expect(readPngText(png)).toEqual({ parameters: text, Software: 'reprompt' });
    expect(Buffer.from(png).includes(Buffer.from('iTXt'))).toBe(true);
    expect((await sharp(png).metadata()).comments).toContainEqual({ keyword: 'parameters', text });
  });

  test('rejects data that is not a PNG', () => {
    expect(() => readPngText(Buffer.from('GIF89a...'))).toThrow(expect.objectContaining({ code: 'bad_input' }));
    expect(() => insertPngText(new Uint8Array(4), 'k', 'v')).toThrow(/not a PNG/);
  });
});
