/**
 * `reprompt edit --image PHOTO` as a user runs it: the photo is inverted (DDIM, its description as prompt) and the
 * edit replays the inversion, so the source image it writes is the photo's VAE round trip.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { readPngText } from '../src/engine/image.js';
import { readNpy } from '../src/engine/npy.js';
import { outputLines, runReprompt } from './cli-helpers.js';
import { decodePng, expectPngClose } from './engine-helpers.js';
import { maxAbsDiff, referencePath } from './helpers.js';
import { pngSize } from './worker-helpers.js';

/** The description of photo_256 the reference inversion used. */
const HOUSE = 'a photo of a house on a hill at sunset';

let cwd: string;
beforeAll(async () => {
  cwd = mkdtempSync(join(tmpdir(), 'reprompt-cli-photo-'));
  copyFileSync(referencePath('inversion/photo_256.png'), join(cwd, 'house.png'));
  copyFileSync(referencePath('inversion/photo_256x192.png'), join(cwd, 'drawing.png'));
  writeFileSync(join(cwd, 'notes.png'), 'not a picture, only a name ending in .png\n');
  writeFileSync(join(cwd, 'dot.png'), await sharp({ create: { width: 1, height: 1, channels: 3, background: 'red' } }).png().toBuffer());
});
afterAll(() => rmSync(cwd, { recursive: true, force: true }));

const reprompt = (args: readonly string[], env?: NodeJS.ProcessEnv) => runReprompt(cwd, args, env);

describe('reprompt edit --image', () => {
  test('inverts the photo and edits it; --source-out is the photo’s VAE round trip', async () => {
    const run = await reprompt([
      'edit', '--image', 'house.png', '--prompt', HOUSE, '--edit', 'house→castle', '--steps', '4', '--threads', '1',
      '--out', 'castle.png', '--source-out', 'source.png', '--save-latents', 'castle.npy',
    ]);
    expect(run.code).toBe(0);
    expect(outputLines(run.stdout)).toHaveLength(1);
    expect(run.stdout).toMatch(/^castle\.png {2}"a photo of a castle on a hill at sunset" {2}mode=replace {2}256x256 {2}sampler=ddim {2}time=.* \(inversion /);

    // The source row replays the inversion and ends on z0: decoding it is the photo's round trip.
    const source = readFileSync(join(cwd, 'source.png'));
    await expectPngClose(source, 'inversion/photo_256_roundtrip.png');

    const edited = readFileSync(join(cwd, 'castle.png'));
    expect(pngSize(edited)).toEqual({ width: 256, height: 256 });
    expect(readPngText(edited).parameters).toMatch(/^a photo of a castle on a hill at sunset\n[\s\S]*Steps: 4, Sampler: DDIM, .*Size: 256x256/);
    expect(readPngText(edited).parameters).toContain(`Source prompt: ${HOUSE}`);
    const [a, b] = await Promise.all([decodePng(edited), decodePng(source)]);
    expect(maxAbsDiff(a.data, b.data)).toBeGreaterThan(2);

    const latents = readNpy(join(cwd, 'castle.npy'));
    expect(latents.shape).toEqual([1, 4, 32, 32]);
    expect(latents.data.every(Number.isFinite)).toBe(true);
  });

  test('one side given: the other follows the photo’s aspect; the default output name is the photo’s', async () => {
    const run = await reprompt(['edit', '--image', 'drawing.png', '--prompt', 'a drawing of a house under the sun', '--edit', 'sun→moon', '--width', '128', '--steps', '2', '--threads', '1']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^drawing-edit\.png .* 128x96 /);
    expect(pngSize(readFileSync(join(cwd, 'drawing-edit.png')))).toEqual({ width: 128, height: 96 });
  });

  // REPROMPT_MODEL_DIR is a folder that is not a model, so loading would fail with exit 1: exit 2 with the message
  // proves each was refused before the model loaded (and before any inversion).
  test.each([
    ['not an image', ['--image', 'notes.png', '--prompt', HOUSE, '--edit', 'house→castle'], /not an image reprompt can read/],
    ['a 1×1 image', ['--image', 'dot.png', '--prompt', HOUSE, '--edit', 'house→castle'], /1×1 pixels, too small to edit/],
    ['a missing file', ['--image', 'missing.png', '--prompt', HOUSE, '--edit', 'house→castle'], /Cannot read missing\.png/],
    ['a description without the swapped word', ['--image', 'house.png', '--prompt', 'a garden at noon', '--edit', 'house→castle'], /“house” is not in the prompt “a garden at noon”/],
    ['another sampler', ['--image', 'house.png', '--prompt', HOUSE, '--edit', 'house→castle', '--scheduler', 'euler-a'], /use the ddim sampler .*euler-a cannot replay/],
    ['a size the photo cannot take', ['--image', 'drawing.png', '--prompt', HOUSE, '--edit', 'house→castle', '--height', '2048'], /Width 2728 is not supported/],
  ])('%s: exit 2, one line, nothing written, before the model loads', async (_case, args, message) => {
    const notAModel = mkdtempSync(join(tmpdir(), 'reprompt-not-a-model-'));
    const before = readdirSync(cwd);
    try {
      const run = await reprompt(['edit', ...args], { REPROMPT_MODEL_DIR: notAModel });
      expect(run.stderr).toMatch(message);
      expect(outputLines(run.stderr)).toHaveLength(1);
      expect(run.code).toBe(2);
      expect(readdirSync(cwd)).toEqual(before);
    } finally {
      rmSync(notAModel, { recursive: true, force: true });
    }
  });
});
