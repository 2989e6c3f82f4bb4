/**
 * Live previews end to end: `reprompt local` on the bundled model (the real engine worker) saves the preview images
 * its status messages show, at least two per job of eight steps, for a generation and for an edit; `reprompt
 * imagine --preview-out F` keeps F the newest preview.
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { repoRoot } from './helpers.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'reprompt-preview-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function local(script: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return reprompt(['local', '--out', join(dir, 'out'), '--db', join(dir, 'local.db'), '--threads', '1'], script);
}

function reprompt(args: readonly string[], stdin = ''): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const { REPROMPT_MODEL_DIR: _ignored, ...env } = process.env;
  const child = spawn(process.execPath, [join(repoRoot, 'bin', 'reprompt.mjs'), ...args], { cwd: dir, env });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c) => (stdout += c));
  child.stderr.on('data', (c) => (stderr += c));
  child.stdin.end(stdin);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

test('reprompt local writes at least 2 preview files per job of 8 steps (generation and edit)', async () => {
  const run = await local(['/imagine prompt:"a red fox in the snow" seed:7 steps:8 width:64 height:64', '/edit edit:"fox→cat" image:m1'].join('\n'));
  expect(run.code).toBe(0);
  const files = readdirSync(join(dir, 'out'));
  for (const job of [1, 2]) {
    const previews = files.filter((f) => new RegExp(`^job-${job}-step-\\d+\\.webp$`).test(f)).sort();
    expect(previews.length).toBeGreaterThanOrEqual(2);
    // Each is named on the job's status line as it is shown, and is a real small image.
    for (const name of previews) expect(run.stdout).toContain(`preview: ${join(dir, 'out', name)}`);
    const meta = await sharp(readFileSync(join(dir, 'out', previews[0]))).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['webp', 256, 256]);
  }
  // The results themselves are still there.
  expect(files).toEqual(expect.arrayContaining(['job-1.png', 'job-2.png']));
}, 120_000);

test('reprompt imagine --preview-out writes the newest preview there, whole (JPEG for .jpg)', async () => {
  const args = ['imagine', '--prompt', 'a lighthouse', '--seed', '3', '--steps', '8', '--width', '64', '--height', '64', '--threads', '1', '--out', 'l.png'];
  const run = await reprompt([...args, '--preview-out', join('previews', 'now.jpg')]);
  expect(run.code).toBe(0);
  const meta = await sharp(readFileSync(join(dir, 'previews', 'now.jpg'))).metadata();
  expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', 256, 256]);
  expect(readdirSync(join(dir, 'previews'))).toEqual(['now.jpg']); // no partial file left behind
}, 120_000);
