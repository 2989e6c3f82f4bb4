/** `reprompt register` (npm run register): registers the bot's commands with Discord, per guild or globally. */
import type { Command } from 'commander';
import { config as loadDotenv } from 'dotenv';
import { modules } from '../../commands/index.js';
import { loadConfig } from '../bot/config.js';
import { registerCommands } from '../bot/register.js';
import { commandDefinitions } from '../bot/router.js';

export function register(program: Command): void {
  program
    .command('register')
    .action(() => registerAll());
}

async function registerAll(): Promise<void> {
  loadDotenv({ quiet: true });
  const { discord } = loadConfig(process.env, 'register');
  const done = await registerCommands(discord!, commandDefinitions(modules));
  const where = done.scope === 'guild' ? `in guild ${discord!.guildId} (available now)` : 'globally (clients pick them up within minutes)';
  process.stdout.write(`Registered ${done.names.length} commands ${where}: ${done.names.join(', ')}\n`);
}
