/**
 * The console driver end to end on the bundled model: `reprompt local` as an operator runs it (a child process,
 * stdin script, the real engine worker with the attention-patched UNet, SQLite), then a second process on the same
 * database presses a button of the first session's image — the restart case — and a process killed with SIGKILL
 * in the middle of a job is restarted on its database and finishes the job.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
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

interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** `reprompt local` on a database in the test's folder; the script is written to its stdin unless `keepOpen`. */
function startLocal(db: string, extraEnv: NodeJS.ProcessEnv = {}): { child: ChildProcessWithoutNullStreams; stdout: () => string; done: Promise<Finished> } {
  const { REPROMPT_MODEL_DIR: _ignored, ...env } = process.env;
  const args = [join(repoRoot, 'bin', 'reprompt.mjs'), 'local', '--out', join(dir, 'out'), '--db', join(dir, db), '--threads', '1'];
  const child = spawn(process.execPath, args, { cwd: dir, env: { ...env, REPROMPT_CACHE_DIR: join(dir, 'cache'), ...extraEnv } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c) => (stdout += c));
  child.stderr.on('data', (c) => (stderr += c));
  const done = new Promise<Finished>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, stdout: () => stdout, done };
}

function local(script: string, db = 'local.db', extraEnv: NodeJS.ProcessEnv = {}): Promise<Finished> {
  const run = startLocal(db, extraEnv);
  run.child.stdin.end(script);
  return run.done;
}

/** Resolves once the child's stdout matches. */
async function outputMatching(run: { stdout: () => string; done: Promise<Finished> }, pattern: RegExp): Promise<void> {
  let ended = false;
  void run.done.then(() => (ended = true));
  while (!pattern.test(run.stdout())) {
    if (ended) throw new Error(`the process ended before printing ${pattern}:\n${run.stdout()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
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

  test('a new process on the same database presses a button of an earlier image; message ids go on from there', async () => {
    const run = await local('click Reroll on m1\n');
    expect(run.code).toBe(0);
    expect(run.stderr).not.toMatch(/internal|stack|Error:/);
    // The reroll of the first session's job #1 is job #6 (#5 was the last one), in a message after m5.
    expect(run.stdout).toContain('> click Reroll on m1');
    expect(run.stdout).toMatch(/\[m6\]\* ✅ @you · job #6 · reroll of #1/);
    expect(run.stdout).not.toMatch(/\[m[1-5]\]/);
    expect(readPngText(readFileSync(join(dir, 'out', 'job-6.png'))).parameters).toMatch(/^a red fox in the snow\nSteps: 3, Sampler: DDIM/);
  });

  test('killed with SIGKILL in the middle of a job, then restarted on the same database: the job resumes and finishes', async () => {
    // A long job (the operator allows 150 steps), killed at its first progress line; stdin stays open meanwhile.
    const longJobs = { MAX_STEPS: '150' };
    const first = startLocal('killed.db', longJobs);
    first.child.stdin.write('/imagine prompt:"a lighthouse" seed:7 steps:150 width:128 height:128 sampler:ddim\n');
    await outputMatching(first, /\[m1\]\* 🎨 @you · job #1 · .*step \d+\/150|✅/);
    expect(first.stdout()).not.toContain('✅');
    first.child.kill('SIGKILL');
    const killed = await first.done;
    expect(killed.signal).toBe('SIGKILL');
    expect(killed.stdout).not.toContain('✅');

    const second = await local('/imagine prompt:"a boat" seed:8 steps:2 width:64 height:64\n', 'killed.db', longJobs);
    expect(second.code).toBe(0);
    expect(second.stdout).toContain('(resumed 1 job from before the restart)');
    // Job #1 finishes in its own message m1; the new job gets a new message, not m1 again.
    expect(second.stdout).toMatch(/\[m1\]\* ✅ @you · job #1\n/);
    expect(second.stdout).toMatch(/\[m2\]\* ✅ @you · job #2\n/);
    expect(readPngText(readFileSync(join(dir, 'out', 'job-1.png'))).parameters).toMatch(/^a lighthouse\nSteps: 150, Sampler: DDIM, CFG scale: 7\.5, Seed: 7, Size: 128x128/);

    // A third start has nothing left to resume.
    const third = await local('', 'killed.db');
    expect(third.code).toBe(0);
    expect(third.stdout).not.toContain('resumed');
  });
});
