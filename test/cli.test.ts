/** `reprompt imagine` as a user runs it: `node bin/reprompt.mjs …` in a scratch working directory. */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readPngText } from '../src/engine/image.js';
import { readNpy } from '../src/engine/npy.js';
import { runReprompt, type CliRun } from './cli-helpers.js';
import { pngSize } from './worker-helpers.js';

let cwd: string;
beforeAll(() => {
  cwd = mkdtempSync(join(tmpdir(), 'reprompt-cli-'));
});
afterAll(() => rmSync(cwd, { recursive: true, force: true }));

const reprompt = (args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<CliRun> => runReprompt(cwd, args, env);

const lines = (text: string): string[] => text.split('\n').filter((line) => line !== '');
/** The tiny job every run uses: fast on the bundled model, with one ORT thread. */
const SMALL = ['--steps', '2', '--width', '64', '--height', '64', '--threads', '1'];

describe('reprompt imagine', () => {
  test('writes the PNG (size, parameters chunk) and the latents it was asked for, and reports on one line', async () => {
    const run = await reprompt([
      'imagine', '--prompt', 'a lighthouse at dusk', '--negative', 'fog', '--seed', '7', '--steps', '2', '--cfg', '-5',
      '--width', '64', '--height', '128', '--scheduler', 'ddim', '--threads', '1',
      '--out', 'images/lighthouse.png', '--save-latents', 'lighthouse.npy',
    ]);
    expect(run.code).toBe(0);
    expect(lines(run.stdout)).toHaveLength(1);
    expect(run.stdout).toMatch(/^images\/lighthouse\.png .*seed=7 .*sampler=ddim .*time=/);
    expect(run.stderr).toContain('random weights: the image is noise');

    const png = readFileSync(join(cwd, 'images', 'lighthouse.png'));
    expect(pngSize(png)).toEqual({ width: 64, height: 128 });
    const parameters = readPngText(png).parameters;
    expect(parameters).toContain('a lighthouse at dusk');
    expect(parameters).toContain('Negative prompt: fog');
    expect(parameters).toMatch(/Steps: 2, Sampler: DDIM, CFG scale: -5, Seed: 7, Size: 64x128/);

    const latents = readNpy(join(cwd, 'lighthouse.npy'));
    expect(latents.dtype).toBe('float32');
    expect(latents.shape).toEqual([1, 4, 128 / 8, 64 / 8]);
    expect(latents.data.every(Number.isFinite)).toBe(true);
  });

  test('prints the random seed it chose, and that seed redraws the identical image', async () => {
    const first = await reprompt(['imagine', '--prompt', 'a red fox', '--cfg=-5', ...SMALL]);
    expect(first.code).toBe(0);
    const seed = /seed=(\d+)/.exec(first.stdout)?.[1];
    expect(seed).toBeDefined();
    const defaultName = `reprompt-${seed}.png`;
    expect(first.stdout.startsWith(defaultName)).toBe(true);

    const again = await reprompt(['imagine', '--prompt', 'a red fox', '--cfg', '-5', '--seed', seed!, '--out', 'again.png', ...SMALL]);
    expect(again.code).toBe(0);
    expect(readFileSync(join(cwd, 'again.png')).equals(readFileSync(join(cwd, defaultName)))).toBe(true);
  });

  test.each([
    ['an unknown option', ['--prompt', 'x', '--bogus'], /unknown option '--bogus'/],
    ['a non-numeric value', ['--prompt', 'x', '--steps', 'many'], /--steps.*'many'.*whole number/],
    ['a width that is not a multiple of 8', ['--prompt', 'x', '--width', '100'], /--width.*'100'.*multiple of 8/],
    ['an unknown scheduler', ['--prompt', 'x', '--scheduler', 'heun'], /--scheduler.*'heun'.*pndm/],
    ['a missing prompt', ['--steps', '2'], /--prompt.*not specified/],
    ['a negative seed', ['--prompt', 'x', '--seed', '-1'], /--seed.*'-1'/],
  ])('%s: one line on stderr, exit code 2, nothing written', async (_case, args, message) => {
    const before = readdirSync(cwd);
    const run = await reprompt(['imagine', ...args]);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(lines(run.stderr)).toHaveLength(1);
    expect(run.stderr).toMatch(/^reprompt: /);
    expect(run.stderr).toMatch(message);
    expect(readdirSync(cwd)).toEqual(before);
  });

  // A folder that is not a model makes loading fail (exit 1): an exit 2 naming the option proves the option was
  // checked before the model was loaded.
  test.each([
    ['imagine', ['--width', '8'], /--width.*'8'.*from 64 to 2048/],
    ['imagine', ['--width', '4096'], /--width.*'4096'.*from 64 to 2048/],
    ['imagine', ['--steps', '151'], /--steps.*'151'.*from 1 to 150/],
    ['imagine', ['--prompt', ''], /--prompt.*''.*Expected some text/],
    ['imagine', ['--out', '/proc/x.png'], /--out.*'\/proc\/x\.png'.*Cannot create files in \/proc/],
    ['imagine', ['--out', '.'], /--out.*'\.'.*folder/],
    ['imagine', ['--out', '/dev/full'], /--out.*'\/dev\/full'.*not a regular file/],
    ['imagine', ['--save-latents', '/dev/full'], /--save-latents.*'\/dev\/full'.*not a regular file/],
    ['edit', ['--edit', 'x→y', '--cross', '2'], /--cross.*'2'.*window 2 is not valid/],
    ['edit', ['--edit', 'x→y', '--cross', '0.9,0.1'], /--cross.*'0\.9,0\.1'.*not valid/],
    ['edit', ['--edit', 'x→y', '--self', '-1'], /--self.*'-1'.*not valid/],
    ['edit', ['--edit', 'x→(y'], /Unbalanced brackets/],
    ['edit', ['--edit', 'x→y', '--source-out', '/dev/full'], /--source-out.*not a regular file/],
  ])('%s %j is refused before the model loads: exit 2, one line, nothing written', async (command, args, message) => {
    const notAModel = mkdtempSync(join(tmpdir(), 'reprompt-not-a-model-'));
    const before = readdirSync(cwd);
    try {
      const run = await reprompt([command, '--prompt', 'x', ...args], { REPROMPT_MODEL_DIR: notAModel });
      expect(run.code).toBe(2);
      expect(lines(run.stderr)).toHaveLength(1);
      expect(run.stderr).toMatch(message);
      expect(readdirSync(cwd)).toEqual(before);
    } finally {
      rmSync(notAModel, { recursive: true, force: true });
    }
  });

  test('a prompt of 2,000 words (one 15 kB argument) draws, and ONNX Runtime writes nothing into HOME', async () => {
    // ORT's telemetry matched the command line with a recursive regex: a long argument overflowed the worker's stack.
    let state = 1;
    const word = () => Array.from({ length: 3 + (state % 8) }, () => String.fromCharCode(97 + ((state = (state * 48271) % 2147483647) % 10))).join('');
    const prompt = Array.from({ length: 2000 }, word).join(' ');
    expect(prompt.length).toBeGreaterThan(14000);
    const home = mkdtempSync(join(tmpdir(), 'reprompt-home-'));
    try {
      const run = await reprompt(['imagine', '--prompt', prompt, '--out', 'long.png', ...SMALL], { HOME: home, XDG_CACHE_HOME: '' });
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(/^long\.png /);
      expect(run.stderr).toContain('the prompt is longer than 77 tokens');
      expect(pngSize(readFileSync(join(cwd, 'long.png')))).toEqual({ width: 64, height: 64 });
      expect(readdirSync(home)).toEqual([]);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });

  test('a folder that is not a model: one line, exit code 1 (REPROMPT_MODEL_DIR is honoured)', async () => {
    const notAModel = mkdtempSync(join(tmpdir(), 'reprompt-not-a-model-'));
    const before = readdirSync(cwd);
    try {
      const run = await reprompt(['imagine', '--prompt', 'x', ...SMALL], { REPROMPT_MODEL_DIR: notAModel });
      expect(run.code).toBe(1);
      expect(run.stdout).toBe('');
      expect(lines(run.stderr)).toHaveLength(1);
      expect(run.stderr).toMatch(/^reprompt: /);
      expect(run.stderr).toContain(notAModel);
      expect(readdirSync(cwd)).toEqual(before);
    } finally {
      rmSync(notAModel, { recursive: true, force: true });
    }
  });
});
