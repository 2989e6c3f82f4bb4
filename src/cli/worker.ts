/**
 * `reprompt worker --redis URL [--model DIR] [--provider P] [--threads N] [--name NAME]`: one engine that takes
 * jobs for its model from Redis (BullMQ) until SIGINT/SIGTERM, then finishes its running job and stops. One per
 * GPU (CUDA_VISIBLE_DEVICES picks it), on any machine that reaches the Redis.
 */
import type { Command } from 'commander';
import { createLogger } from '../bot/log.js';
import { startRemoteWorker } from '../bot/remote/worker.js';
import { defaultWarmUp } from '../bot/engine-backend.js';
import { parseProvider } from '../engine/providers.js';
import { addEngineOptions, type EngineCliOptions } from './engine-options.js';
import { noteIfBundledModel, resolveModelDir } from './model-dir.js';
import { imageSide, SIDE_HELP } from './imagine.js';
import { integer } from './options.js';

const warmUpSide = (text: string): number => (text.trim() === '0' ? 0 : imageSide(text));

interface WorkerOptions extends EngineCliOptions {
  redis: string;
  name?: string;
  attentionStoreMb: number;
  lockMs: number;
  warmUp: number;
}

export function register(program: Command): void {
  const command = program
    .command('worker')
    .description('run one engine that takes jobs from Redis (the bot or `reprompt local` with REDIS_URL / --redis hands them out)')
    .requiredOption('--redis <url>', 'Redis URL, e.g. redis://127.0.0.1:6379')
    .option('--name <name>', 'this worker’s name in logs and in Redis (default: host-pid)')
    .option('--attention-store-mb <n>', 'memory for stored source attention, a cache local to this worker (0: none)', integer({ min: 0 }), 2048)
    .option('--warm-up <px>', `warm the sessions at this square size before taking jobs (plain and edit batches): ${SIDE_HELP}, or 0 for none`, warmUpSide, 512)
    .option('--lock-ms <n>', 'a job whose worker stops answering goes to another worker after this long', integer({ min: 1000 }), 30_000);
  addEngineOptions(command).action((options: WorkerOptions) => worker(options));
}

async function worker(options: WorkerOptions): Promise<void> {
  const modelDir = resolveModelDir(options.model);
  noteIfBundledModel(modelDir);
  const log = createLogger();
  const running = await startRemoteWorker({
    redisUrl: options.redis,
    engine: {
      modelDir,
      provider: parseProvider(options.provider ?? 'cpu', '--provider'),
      threads: options.threads ?? 0,
      attentionStoreMb: options.attentionStoreMb,
    },
    name: options.name,
    lockMs: options.lockMs,
    warmUp: options.warmUp > 0 ? defaultWarmUp(options.warmUp) : undefined,
    log,
  });
  let signalled = false;
  const stop = (signal: string): void => {
    signalled = true;
    log.info(`${signal}: finishing the running job, then stopping`);
    void running.close();
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
  await running.stopped;
  // Stopped without a signal: its engine crashed. A non-zero status lets a supervisor (systemd, Docker) restart it.
  if (!signalled) process.exitCode = 1;
}
