/** `reprompt vary` and `reprompt upscale` as a user runs them, from a PNG that `reprompt imagine` wrote. */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { parseParameters, readPngText } from '../src/engine/image.js';
import { runReprompt } from './cli-helpers.js';
import { pngSize } from './worker-helpers.js';

let cwd: string;
beforeAll(async () => {
  cwd = mkdtempSync(join(tmpdir(), 'reprompt-cli-vary-'));
  const made = await reprompt(['imagine', '--prompt', 'a red house, by a lake', '--negative', 'fog', '--seed', '3', '--steps', '4', '--scheduler', 'ddim', '--width', '64', '--height', '64', '--threads', '1', '--out', 'src.png']);
  expect(made.code).toBe(0);
  writeFileSync(join(cwd, 'bare.png'), await sharp({ create: { width: 64, height: 64, channels: 3, background: 'grey' } }).png().toBuffer());
});
afterAll(() => rmSync(cwd, { recursive: true, force: true }));

const reprompt = (args: readonly string[]) => runReprompt(cwd, args);

const parameters = (file: string) => parseParameters(readPngText(readFileSync(join(cwd, file))).parameters);

test('vary: the source’s prompt and settings, a new seed, the strength recorded', async () => {
  const run = await reprompt(['vary', '--from', 'src.png', '--strength', '0.7', '--seed', '9', '--threads', '1']);
  expect(run.code).toBe(0);
  expect(run.stdout).toMatch(/^src-vary-9\.png {2}64x64 {2}strength=0\.7 {2}seed=9 {2}sampler=ddim/);
  const source = parameters('src.png');
  const varied = parameters('src-vary-9.png');
  expect(varied).toEqual({ ...source, seed: '9', extra: { 'Denoising strength': '0.7' } });
  expect(readFileSync(join(cwd, 'src-vary-9.png')).equals(readFileSync(join(cwd, 'src.png')))).toBe(false);
});

test('upscale: twice the size at strength 0.35', async () => {
  const run = await reprompt(['upscale', '--from', 'src.png', '--seed', '5', '--threads', '1', '--out', 'big.png']);
  expect(run.code).toBe(0);
  expect(pngSize(readFileSync(join(cwd, 'big.png')))).toEqual({ width: 128, height: 128 });
  expect(parameters('big.png')).toMatchObject({ width: 128, height: 128, seed: '5', extra: { 'Denoising strength': '0.35' } });
});

test.each([
  ['a strength above 1', ['vary', '--from', 'src.png', '--strength', '2'], /--strength.*'2'.*from 0 to 1/],
  ['a missing file', ['vary', '--from', 'missing.png'], /Cannot read missing\.png/],
  ['a PNG without parameters', ['upscale', '--from', 'bare.png'], /bare\.png has no "parameters" text/],
])('%s: one line, exit code 2, nothing written', async (_case, args, message) => {
  const before = readdirSync(cwd);
  const run = await reprompt(args);
  expect(run.code).toBe(2);
  expect(run.stdout).toBe('');
  expect(run.stderr).toMatch(message);
  expect(readdirSync(cwd)).toEqual(before);
});
