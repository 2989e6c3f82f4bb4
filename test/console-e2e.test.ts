/**
 * The console driver end to end on the bundled model: `reprompt local` as an operator runs it (a child process,
 * stdin script, the real engine worker with the attention-patched UNet, SQLite), then a second process on the same
 * database presses a button of the first session's image — the restart case.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { readPngText } from '../src/engine/image.js';
import { repoRoot } from './helpers.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'reprompt-local-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function local(script: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const { REPROMPT_MODEL_DIR: _ignored, ...env } = process.env;
  const args = [join(repoRoot, 'bin', 'reprompt.mjs'), 'local', '--out', join(dir, 'out'), '--db', join(dir, 'local.db'), '--threads', '1'];
  const child = spawn(process.execPath, args, { cwd: dir, env });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c) => (stdout += c));
  child.stderr.on('data', (c) => (stderr += c));
  child.stdin.end(script);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('reprompt local on the bundled model', () => {
  test('imagine, a guidance variation, an edit, a re-edit reusing the source attention, the attention maps', async () => {
    const run = await local(
      [
        '/imagine prompt:"a red fox in the snow" seed:42 steps:3 width:64 height:64 sampler:ddim',
        'click "CFG −7.5 (away from prompt)"',
        '/edit edit:"fox→cat" image:m1',
        'click Stronger edit',
        'click Attention maps',
        '/edit edit:"horse→dog" image:m1',
      ].join('\n'),
    );
    expect(run.code).toBe(0);
    const out = run.stdout;
    expect(out).toContain('[m1]* ✅ @you · job #1');
    expect(out).toMatch(/\[m2\]\* ✅ @you · job #2 · negative-guidance variation of #1\n.*\n.*CFG: −7\.5/);
    expect(out).toContain('Source → target: a red fox in the snow → a red cat in the snow');
    expect(out).toMatch(/job #3 · edit of #1[\s\S]*Source attention: computed/);
    expect(out).toMatch(/job #4 · stronger edit of #3[\s\S]*Source attention: reused from the store/);
    expect(out).toMatch(/job #5 · attention maps of #4/);
    // A word that is not in the prompt is a clear message at once, not a queued job.
    expect(out).toMatch(/\(only you\).*“horse” is not in the prompt/);
    expect(out).not.toContain('job #6');

    // The images a user would see: the generation with its parameters, the edit, the heat-map grid.
    const first = readFileSync(join(dir, 'out', 'job-1.png'));
    expect(readPngText(first).parameters).toMatch(/^a red fox in the snow\nSteps: 3, Sampler: DDIM, CFG scale: 7\.5, Seed: 42, Size: 64x64/);
    expect((await sharp(first).metadata()).width).toBe(64);
    expect(readPngText(readFileSync(join(dir, 'out', 'job-3.png'))).parameters).toMatch(/^a red cat in the snow\n[\s\S]*Edit: fox→cat/);
    expect(existsSync(join(dir, 'out', 'job-5-attention.png'))).toBe(true);
    // The negative-guidance variation really differs from the original.
    const variation = await sharp(join(dir, 'out', 'job-2.png')).raw().toBuffer();
    expect(Buffer.compare(variation, await sharp(first).raw().toBuffer())).not.toBe(0);
  });

  test('a new process on the same database presses a button of an earlier image', async () => {
    const run = await local('click Reroll on m1\n');
    // The console numbers messages per session; the stored job behind the button is what matters.
    expect(run.code).toBe(0);
    expect(run.stdout).not.toMatch(/internal|stack|Error:/);
  });
});
