/**
 * Distributed mode end to end, as an operator runs it: a real redis-server, two `reprompt worker` processes on the
 * bundled model and `reprompt local --redis`. Eight jobs from three users (imagines, an edit, a button variation)
 * start in the same fair order as with the in-process engine, both workers take jobs, one worker is killed with
 * SIGKILL in the middle of a job, and every job is delivered exactly once.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import Database from 'better-sqlite3';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from './helpers.js';
import { startRedisServer, type RedisServer } from './redis-server.js';

const CLI = join(repoRoot, 'bin', 'reprompt.mjs');
const size = 'width:64 height:64';

let dir: string;
let redis: RedisServer;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'reprompt-remote-'));
  redis = await startRedisServer();
});
afterAll(async () => {
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function childEnv(): NodeJS.ProcessEnv {
  const { REPROMPT_MODEL_DIR: _model, REDIS_URL: _redis, ...env } = process.env;
  return env;
}

function local(script: string, name: string, extra: string[] = []): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const args = [CLI, 'local', '--out', join(dir, `${name}-out`), '--db', join(dir, `${name}.db`), '--threads', '1', ...extra];
  const child = spawn(process.execPath, args, { cwd: dir, env: childEnv() });
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

interface WorkerProcess {
  name: string;
  child: ChildProcess;
  log: () => string;
  started: () => string[];
}

function startWorker(name: string, onLine: (worker: WorkerProcess, line: string) => void): Promise<WorkerProcess> {
  const child = spawn(process.execPath, [CLI, 'worker', '--redis', redis.url, '--threads', '1', '--name', name, '--lock-ms', '3000', '--warm-up', '64'], { cwd: dir, env: childEnv() });
  let log = '';
  const worker: WorkerProcess = {
    name,
    child,
    log: () => log,
    started: () => [...log.matchAll(/started (\S+)/g)].map((m) => m[1]),
  };
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => reject(new Error(`worker ${name} exited (${code}) before it was ready:\n${log}`)));
    child.stderr.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n').filter(Boolean)) {
        log += `${line}\n`;
        if (line.includes(`worker ${name} ready`)) resolve(worker);
        onLine(worker, line);
      }
    });
  });
}

async function stopProcess({ child }: WorkerProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([exited, new Promise((resolve) => (timer = setTimeout(resolve, 20_000)))]);
  clearTimeout(timer);
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

/** The job numbers in the order their messages first said they run (one engine: one at a time, so exact). */
function startOrder(transcript: string): number[] {
  const order: number[] = [];
  for (const match of transcript.matchAll(/^\[m\d+\]\* 🎨 @\S+ · job #(\d+)/gm)) {
    const id = Number(match[1]);
    if (!order.includes(id)) order.push(id);
  }
  return order;
}

/** The waiting jobs in the order `/queue show` lists them: the order the fair queue will start them. */
function shownOrder(transcript: string): number[] {
  const shown = transcript.split('> /queue show')[1]?.split('\n> ')[0] ?? '';
  return [...shown.matchAll(/^\s*\d+\. #(\d+)/gm)].map((m) => Number(m[1]));
}

/** When each job of a `reprompt local` database was started (handed to an engine), by job id. */
function startTimes(dbPath: string): Map<number, number> {
  const db = new Database(dbPath, { readonly: true });
  try {
    const rows = db.prepare('SELECT id, started_at FROM jobs').all() as { id: number; started_at: number }[];
    return new Map(rows.map((row) => [row.id, row.started_at]));
  } finally {
    db.close();
  }
}

// The source image first (the edit and the button need a finished one), then 8 jobs queued while paused, so the
// fair picker orders all of them at once: you ×3 (one of them 24 steps long), bob ×3, carol ×2.
const script = [
  `/imagine prompt:"a red fox in the snow" seed:42 steps:2 ${size} sampler:ddim`,
  'wait',
  '/queue pause',
  `/imagine prompt:"a red fox at night" seed:1 steps:24 ${size}`,
  `/imagine prompt:"a small house" seed:2 steps:3 ${size}`,
  `as bob /imagine prompt:"a blue bird" seed:3 steps:3 ${size}`,
  '/edit edit:"fox→cat" image:m1',
  `as bob /imagine prompt:"a yellow boat" seed:4 steps:3 ${size}`,
  `as carol /imagine prompt:"a green frog" seed:5 steps:3 ${size}`,
  'as carol click "CFG −7.5 (away from prompt)" on m1',
  `as bob /imagine prompt:"a grey cat" seed:6 steps:3 ${size}`,
  '/queue show',
  '/queue resume',
  'wait',
].join('\n');

describe('engine workers on Redis', () => {
  test('8 jobs of 3 users: the in-process fair order, both workers used, one killed mid-job, every job delivered once', async () => {
    const inProcess = await local(script, 'in-process');
    expect(inProcess.code).toBe(0);
    const fairOrder = shownOrder(inProcess.stdout);
    expect(fairOrder.sort((a, b) => a - b)).toEqual([2, 3, 4, 5, 6, 7, 8, 9]);
    const inProcessFairOrder = shownOrder(inProcess.stdout);
    // One engine: jobs start one at a time, in the order the queue showed.
    expect(startOrder(inProcess.stdout)).toEqual([1, ...inProcessFairOrder]);

    let killed: { worker: string; job: string } | undefined;
    const killFirstStart = (worker: WorkerProcess, line: string): void => {
      // Job #2 is the 24-step one: kill the worker that takes it the moment it starts it.
      const started = /started (\S+-2) /.exec(line);
      if (started && !killed) {
        killed = { worker: worker.name, job: started[1] };
        worker.child.kill('SIGKILL');
      }
    };
    let report = (): string => '';
    const workers = await Promise.all([startWorker('wA', killFirstStart), startWorker('wB', killFirstStart)]);
    try {
      const distributed = await local(script, 'redis', ['--redis', redis.url]);
      // On a failure, what each process said.
      report = () => [distributed.stdout, distributed.stderr, ...workers.map((w) => `--- ${w.name}\n${w.log()}`)].join('\n');
      expect(distributed.code).toBe(0);

      // The same fair order, decided by the bot's queue whatever the number of engines: the same list, and two
      // engines started the jobs in that order (two may start in the same millisecond, hence ≤).
      expect(shownOrder(distributed.stdout)).toEqual(inProcessFairOrder);
      const started = startTimes(join(dir, 'redis.db'));
      const times = inProcessFairOrder.map((id) => started.get(id) ?? NaN);
      expect(times.every((t, i) => i === 0 || times[i - 1] <= t)).toBe(true);

      // Every job ended once, successfully: one final message per job, no job ended twice.
      const finals = [...distributed.stdout.matchAll(/^\[m\d+\]\*? (✅|❌|🚫|⚠️) @\S+ · job #(\d+)/gm)].map((m) => `${m[1]}${m[2]}`);
      expect(finals.sort()).toEqual(Array.from({ length: 9 }, (_, i) => `✅${i + 1}`).sort());
      expect(distributed.stdout).toContain('Source → target: a red fox in the snow → a red cat in the snow');
      expect(distributed.stdout).toMatch(/job #\d+ · negative-guidance variation of #1/);

      // One worker was killed while it ran the 24-step job; the other ran that job again (its second attempt).
      expect(killed).toBeDefined();
      const [victim, survivor] = killed!.worker === 'wA' ? workers : [workers[1], workers[0]];
      expect(victim.log()).not.toContain(`finished ${killed!.job}`);
      expect(survivor.log()).toMatch(new RegExp(`started ${killed!.job} \\(imagine, attempt 2\\)`));
      // Both took jobs, and apart from the killed one, no job started twice.
      expect(victim.started().length).toBeGreaterThanOrEqual(1);
      expect(survivor.started().length).toBeGreaterThanOrEqual(1);
      const all = [...victim.started(), ...survivor.started()];
      expect(all.filter((id) => id !== killed!.job).length).toBe(new Set(all.filter((id) => id !== killed!.job)).size);
    } catch (e) {
      process.stderr.write(`${report()}\n`);
      throw e;
    } finally {
      await Promise.all(workers.map(stopProcess));
    }
  }, 600_000);

  test('a grid, an upscale and a variation of its candidates on a worker: the kinds and the source PNG cross Redis', async () => {
    const worker = await startWorker('wG', () => {});
    try {
      const grid = [`/imagine prompt:"a red fox in the snow" seed:42 steps:2 ${size} sampler:ddim count:2`, 'wait', 'click U1', 'click V2 on m1', 'wait'].join('\n');
      const run = await local(grid, 'grid', ['--redis', redis.url]);
      expect([run.code, run.stderr]).toEqual([0, '']);
      expect(run.stdout).toContain('✅ @you · job #1 · grid of 2');
      expect(run.stdout).toContain('✅ @you · job #4 · upscale of #2');
      expect(run.stdout).toContain('✅ @you · job #5 · strong variation of #3');
      expect(run.stdout).toContain('Size: 128×128 · Strength: 0.35');
      expect(worker.log()).toMatch(/started \S+-1 \(imagine-grid, attempt 1\)/);
      expect(worker.log()).toMatch(/started \S+-4 \(img2img, attempt 1\)/);
    } finally {
      await stopProcess(worker);
    }
  }, 300_000);
});
