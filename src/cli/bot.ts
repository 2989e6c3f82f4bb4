/**
 * `reprompt bot` (npm start): validates the configuration, starts the engine, logs in to Discord and resumes the
 * jobs that were queued or running when the bot last stopped. SIGINT/SIGTERM stop it cleanly: running jobs are
 * delivered first, waiting ones stay in the database for the next start.
 */
import type { Command } from 'commander';
import { config as loadDotenv } from 'dotenv';
import { UserError } from '../engine/errors.js';
import { loadConfig, redactor, type BotConfig, type DiscordConfig } from '../bot/config.js';
import { startDiscordBot } from '../bot/discord/client.js';
import { startEngineBackend } from '../bot/engine-backend.js';
import { createLogger } from '../bot/log.js';

export function register(program: Command): void {
  program
    .command('bot')
    .action(() => runBot());
}

async function runBot(): Promise<void> {
  loadDotenv({ quiet: true });
  const config = loadConfig(process.env, 'bot') as BotConfig & { discord: DiscordConfig };
  const log = createLogger(redactor(config));
  const backend = await startEngineBackend(config.engine);
  let bot;
  try {
    bot = await startDiscordBot(config, backend, log);
  } catch (e) {
    await backend.close();
    // discord.js' login errors are plain Errors; the token itself must not be echoed.
    throw new UserError('bad_input', redactor(config)(`Could not log in to Discord: ${e instanceof Error ? e.message : String(e)} (check DISCORD_TOKEN).`));
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
