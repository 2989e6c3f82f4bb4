/**
 * `reprompt bench-workers --redis URL`: the distributed mode's figures; asserts nothing. Starts 1, then 2
 * `reprompt worker` processes on this machine, hands them jobs through Redis the way the bot does (one job per
 * worker at a time, the next when one is delivered) and prints the time a job spends between the bot and a worker
 * (handed to BullMQ → started on a worker; finished on the worker → delivered to the bot) and the throughput.
 * Workers on one machine share its CPU (or GPU): 2 workers only add throughput when each has its own device.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { silentLogger } from '../bot/log.js';
import { startRedisBackend, type DeliveryTimes, type RedisBackend } from '../bot/remote/redis-backend.js';
import type { ImagineJob } from '../engine/jobs.js';
import { addEngineOptions, type EngineCliOptions } from './engine-options.js';
import { resolveModelDir } from './model-dir.js';
import { integer } from './options.js';

const CLI = fileURLToPath(new URL('../../bin/reprompt.mjs', import.meta.url));

interface BenchWorkersOptions extends EngineCliOptions {
  redis: string;
  jobs: number;
  steps: number;
  size: number;
  maxWorkers: number;
}

export function register(program: Command): void {
  const command = program
    .command('bench-workers')
    .description('time the distributed mode: bot↔worker latency and throughput with 1 and 2 `reprompt worker` processes')
    .requiredOption('--redis <url>', 'Redis URL (a scratch database: the bench adds jobs and workers to it)')
    .option('--jobs <n>', 'jobs timed per worker count', integer({ min: 1 }), 8)
    .option('--steps <n>', 'sampling steps per job', integer({ min: 1 }), 4)
    .option('--size <px>', 'image width and height', integer({ min: 64, multipleOf: 8 }), 64)
    .option('--max-workers <n>', 'time 1, 2, … up to this many workers', integer({ min: 1, max: 8 }), 2);
  addEngineOptions(command).action((options: BenchWorkersOptions) => benchWorkers(options));
}

interface Spawned {
  child: ChildProcess;
  ready: Promise<void>;
}

function spawnWorker(options: BenchWorkersOptions, name: string, modelDir: string): Spawned {
  const args = [CLI, 'worker', '--redis', options.redis, '--model', modelDir, '--name', name, '--provider', options.provider ?? 'cpu', '--warm-up', String(options.size)];
  if (options.threads !== undefined) args.push('--threads', String(options.threads));
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const ready = new Promise<void>((resolve, reject) => {
    let log = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      log += chunk.toString();
      if (log.includes(`worker ${name} ready`)) resolve();
    });
    child.once('exit', (code) => reject(new Error(`worker ${name} exited (${code}):\n${log}`)));
  });
  return { child, ready };
}

async function stopWorker({ child }: Spawned): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

/** Runs `count` jobs with `lanes` in flight at once, as the bot's queue does with that many workers. */
async function runJobs(backend: RedisBackend, job: ImagineJob, count: number, lanes: number): Promise<number> {
  let next = 0;
  const started = performance.now();
  const lane = async (): Promise<void> => {
    while (next < count) {
      next++;
      await backend.imagine(job, { jobKey: randomUUID(), signal: new AbortController().signal, onProgress: () => {} });
    }
  };
  await Promise.all(Array.from({ length: lanes }, lane));
  return performance.now() - started;
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

async function benchWorkers(options: BenchWorkersOptions): Promise<void> {
  const modelDir = resolveModelDir(options.model);
  const job: ImagineJob = {
    kind: 'imagine',
    params: { prompt: 'a red fox in the snow', negativePrompt: '', seed: '42', steps: options.steps, guidance: 7.5, width: options.size, height: options.size },
  };
  process.stdout.write(`bench-workers: ${modelDir} on ${options.provider ?? 'cpu'}, ${options.steps} steps, ${options.size}×${options.size}, ${options.jobs} jobs\n`);
  for (let workers = 1; workers <= options.maxWorkers; workers++) {
    const spawned = Array.from({ length: workers }, (_, i) => spawnWorker(options, `bench-${process.pid}-${workers}-${i + 1}`, modelDir));
    const times: DeliveryTimes[] = [];
    let backend: RedisBackend | undefined;
    try {
      await Promise.all(spawned.map((s) => s.ready));
      backend = await startRedisBackend({ redisUrl: options.redis, model: basename(modelDir), namespace: `bench-${randomUUID()}`, log: silentLogger, onDelivered: (t) => times.push(t) });
      // Warm-up: one job per worker, so that no figure pays for ONNX Runtime's first run.
      await runJobs(backend, job, workers, workers);
      times.length = 0;
      const wallMs = await runJobs(backend, job, options.jobs, workers);
      const row = (label: string, value: number, unit: string): void => void process.stdout.write(`  ${label.padEnd(50)} ${value.toFixed(unit === 'jobs/s' ? 2 : 1).padStart(9)} ${unit}\n`);
      process.stdout.write(`\n${workers} worker${workers === 1 ? '' : 's'} (${new Set(times.map((t) => t.worker)).size} took jobs)\n`);
      row('handed to BullMQ → started on a worker (median)', median(times.map((t) => t.startedAt - t.enqueuedAt)), 'ms');
      row('finished on the worker → delivered (median)', median(times.map((t) => t.deliveredAt - t.finishedAt)), 'ms');
      row('run on the worker (median)', median(times.map((t) => t.finishedAt - t.startedAt)), 'ms');
      row('throughput', (options.jobs * 1000) / wallMs, 'jobs/s');
    } finally {
      await backend?.close();
      await Promise.all(spawned.map(stopWorker));
    }
  }
}
