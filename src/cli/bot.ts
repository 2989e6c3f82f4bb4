/**
 * `reprompt bot` (npm start): validates the configuration, starts the engine, logs in to Discord and resumes the
 * jobs that were queued or running when the bot last stopped. SIGINT/SIGTERM stop it cleanly: running jobs are
 * delivered first, waiting ones stay in the database for the next start.
 */
import type { Command } from 'commander';
import { config as loadDotenv } from 'dotenv';
import { isUserError, UserError } from '../engine/errors.js';
import { loadConfig, redactor, type BotConfig, type DiscordConfig } from '../bot/config.js';
import { startDiscordBot } from '../bot/discord/client.js';
import { createLogger } from '../bot/log.js';
import { startBackend } from '../bot/remote/start.js';
import { defaultWarmUp } from '../bot/engine-backend.js';

export function register(program: Command): void {
  program
    .command('bot')
    .action(() => runBot());
}

async function runBot(): Promise<void> {
  loadDotenv({ quiet: true });
  const config = loadConfig(process.env, 'bot') as BotConfig & { discord: DiscordConfig };
  const log = createLogger(redactor(config));
  // With REDIS_URL the engines are `reprompt worker` processes; otherwise one runs here.
  // The first user should not pay ONNX Runtime's first runs: warm the plain and the edit batch at the default size.
  const warmUp = defaultWarmUp(config.defaults.size);
  const backend = await startBackend({ engine: config.engine, redisUrl: config.redisUrl, dbPath: config.dbPath, log, warmUp });
  let bot;
  try {
    bot = await startDiscordBot(config, backend, log);
  } catch (e) {
    await backend.close();
    // A refused token and an unreachable Discord are told apart (see loginFailure); the token itself must not be echoed.
    if (isUserError(e)) throw new UserError(e.code, redactor(config)(e.message));
    throw new UserError('internal', redactor(config)(`Could not start the bot: ${e instanceof Error ? e.message : String(e)}`));
  }
  const running = bot;
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      log.info(`${signal}: finishing running jobs, then stopping`);
      void running
        .stop()
        .then(() => backend.close())
        .finally(resolve);
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
}
