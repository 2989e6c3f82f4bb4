/**
 * `reprompt local [--model DIR] [--out DIR] [--db FILE]`: the bot without Discord. Reads console-driver lines on
 * stdin (see src/bot/console/session.ts for the grammar), prints every reply, saves images to --out, and at the
 * end of input waits for the queue, then exits.
 */
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { config as loadDotenv } from 'dotenv';
import { loadConfig } from '../bot/config.js';
import { defaultDataDir } from '../bot/data-dir.js';
import { CONSOLE_HELP, runConsole } from '../bot/console/session.js';
import { createLogger } from '../bot/log.js';
import { startBackend } from '../bot/remote/start.js';
import { addEngineOptions, type EngineCliOptions } from './engine-options.js';
import { noteIfBundledModel, resolveModelDir } from './model-dir.js';

interface LocalOptions extends EngineCliOptions {
  out: string;
  db: string;
  user: string;
  redis?: string;
}

export function register(program: Command): void {
  const command = program
    .command('local')
    .option('--out <dir>', 'where images are saved', 'out')
    .option('--db <file>', 'job database (kept apart from the bot’s own)', join(defaultDataDir(process.env), 'local.db'))
    .option('--user <name>', 'your name in the transcript', 'you')
    .option('--redis <url>', 'run no engine here: hand jobs to `reprompt worker` processes through this Redis (default: $REDIS_URL)')
    .addHelpText('after', `\nInput lines:\n${CONSOLE_HELP}`);
  addEngineOptions(command).action((options: LocalOptions, self: Command) => local(options, self.getOptionValueSource('provider') === 'default'));
}

async function local(options: LocalOptions, providerByDefault: boolean): Promise<void> {
  loadDotenv({ quiet: true });
  const config = loadConfig(process.env, 'local');
  const modelDir = resolveModelDir(options.model ?? (config.engine.modelDir || undefined));
  const redisUrl = options.redis ?? config.redisUrl;
  if (!redisUrl) noteIfBundledModel(modelDir);
  const log = createLogger();
  const backend = await startBackend({
    engine: {
      ...config.engine,
      modelDir,
      // .env's PROVIDER applies unless --provider was given (commander fills in its own default).
      provider: providerByDefault ? config.engine.provider : (options.provider ?? config.engine.provider),
      threads: options.threads ?? config.engine.threads,
    },
    redisUrl,
    dbPath: options.db,
    log,
  });
  try {
    const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
    await runConsole(lines, {
      backend,
      settings: { ...config, dbPath: options.db },
      outDir: options.out,
      userName: options.user,
      write: (line) => process.stdout.write(`${line}\n`),
      log,
    });
  } finally {
    await backend.close();
  }
}
