/** `reprompt vary` and `reprompt upscale` as a user runs them, from a PNG that `reprompt imagine` wrote. */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { parseParameters, readPngText } from '../src/engine/image.js';
import { JobStore } from '../src/bot/store.js';
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
  ['neither --from nor --job', ['vary'], /either --from IMAGE\.png or --job N/],
  ['both --from and --job', ['vary', '--from', 'src.png', '--job', '1'], /either --from IMAGE\.png or --job N/],
  ['--job without a database', ['upscale', '--job', '1', '--db', 'none.db'], /There is no bot database at none\.db/],
  ['--count 5', ['imagine', '--prompt', 'x', '--count', '5'], /--count.*'5'.*from 1 to 4/],
])('%s: one line, exit code 2, nothing written', async (_case, args, message) => {
  const before = readdirSync(cwd);
  const run = await reprompt(args);
  expect(run.code).toBe(2);
  expect(run.stdout).toBe('');
  expect(run.stderr).toMatch(message);
  expect(readdirSync(cwd)).toEqual(before);
});

test('imagine --count 2: one batch, the grid picture and each candidate; candidate 2 equals --seed 4 (±2 levels)', async () => {
  const args = ['--prompt', 'a red house, by a lake', '--seed', '3', '--steps', '2', '--scheduler', 'ddim', '--width', '64', '--height', '64', '--threads', '1'];
  const run = await reprompt(['imagine', ...args, '--count', '2', '--out', 'pair.png']);
  expect(run.code).toBe(0);
  expect(run.stdout).toMatch(/^pair\.png {2}count=2 {2}sampler=ddim .*\npair-1\.png {2}seed=3\npair-2\.png {2}seed=4\n$/);
  expect(pngSize(readFileSync(join(cwd, 'pair.png')))).toEqual({ width: 128, height: 64 });
  expect(parameters('pair-2.png')).toMatchObject({ seed: '4', width: 64, height: 64 });
  const single = await reprompt(['imagine', ...args.map((a) => (a === '3' ? '4' : a)), '--out', 'single-4.png']);
  expect(single.code).toBe(0);
  const [a, b] = await Promise.all(['pair-2.png', 'single-4.png'].map((f) => sharp(join(cwd, f)).removeAlpha().raw().toBuffer()));
  expect(a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0)).toBeLessThanOrEqual(2);
});

test("upscale --job N: job N's image from the bot's database", async () => {
  const db = join(cwd, 'bot.db');
  const store = new JobStore(db);
  const { model: _model, extra: _extra, ...params } = parameters('src.png');
  const job = store.create({ request: { kind: 'imagine', params }, origin: 'imagine', parentId: null, userId: 'u', userName: 'u', guildId: null, channelId: 'c' });
  store.saveImage(job.id, readFileSync(join(cwd, 'src.png')));
  const queued = store.create({ request: job.request, origin: 'imagine', parentId: null, userId: 'u', userName: 'u', guildId: null, channelId: 'c' });
  store.close();
  const run = await reprompt(['upscale', '--job', String(job.id), '--db', 'bot.db', '--seed', '6', '--steps', '2', '--threads', '1']);
  expect(run.code).toBe(0);
  expect(run.stdout).toMatch(/^job-1-upscale-6\.png {2}128x128 {2}strength=0\.35/);
  expect(parameters('job-1-upscale-6.png')).toMatchObject({ prompt: 'a red house, by a lake', width: 128, height: 128 });
  const missing = await reprompt(['vary', '--job', String(queued.id), '--db', 'bot.db']);
  expect([missing.code, missing.stderr]).toEqual([2, expect.stringContaining(`Job #${queued.id} has no kept image (it is queued)`)]);
});
