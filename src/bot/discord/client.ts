/**
 * The bot on Discord: a discord.js client whose interactions (and, with the message-content intent, plain replies)
 * go through the same router as the console driver; jobs accepted before a restart are resumed once logged in.
 */
import { ActivityType, Client, DiscordjsError, DiscordjsErrorCodes, Events, GatewayIntentBits } from 'discord.js';
import { errorMessage, UserError } from '../../engine/errors.js';
import { createBotApp, type BotApp } from '../app.js';
import type { ImageBackend } from '../backend.js';
import type { BotConfig, DiscordConfig } from '../config.js';
import type { Logger } from '../log.js';
import { fromInteraction, fromReply } from './interactions.js';
import { DiscordChannelSink } from './sink.js';

export interface RunningBot {
  app: BotApp;
  client: Client;
  /** Logs out after running jobs are delivered; waiting jobs stay in the database and resume next start. */
  stop(): Promise<void>;
}

export async function startDiscordBot(config: BotConfig & { discord: DiscordConfig }, backend: ImageBackend, log: Logger): Promise<RunningBot> {
  const { discord } = config;
  // Plain-reply edits need to see message content: the privileged intent is only asked for when enabled.
  const intents = [GatewayIntentBits.Guilds, ...(discord.messageContent ? [GatewayIntentBits.GuildMessages, GatewayIntentBits.MessageContent] : [])];
  const client = new Client({ intents });
  const app = createBotApp({ settings: config, backend, sink: new DiscordChannelSink(client), log, messageContent: discord.messageContent });

  client.on(Events.InteractionCreate, (interaction) => {
    const ix = fromInteraction(interaction, discord.adminRoleIds);
    if (ix) void app.router.handle(ix);
  });
  if (discord.messageContent) {
    client.on(Events.MessageCreate, (message) => {
      const ix = fromReply(message, discord.adminRoleIds);
      if (ix) void app.router.handle(ix);
    });
  }
  client.on(Events.Error, (e) => log.error('discord client error', e));
  client.rest.on('rateLimited', (info) => log.warn(`rate limited on ${info.route} for ${info.retryAfter} ms`));

  const ready = new Promise<void>((resolve) => client.once(Events.ClientReady, () => resolve()));
  try {
    await client.login(discord.token);
  } catch (e) {
    await client.destroy();
    throw loginFailure(e);
  }
  await ready;
  log.info(`logged in as ${client.user?.tag ?? '?'}; model ${backend.info.model} on ${backend.info.provider}`);
  // The model in the bot's status line: users ask which one draws their images.
  client.user?.setPresence({ activities: [{ name: `/imagine · ${backend.info.model}`, type: ActivityType.Custom }] });
  const { resumed, failed } = await app.jobs.resumeUnfinished();
  if (resumed + failed > 0) log.info(`resumed ${resumed} job(s) from before the restart; ${failed} could not be resumed`);

  return {
    app,
    client,
    async stop() {
      await app.jobs.shutdown();
      await app.close();
      await client.destroy();
    },
  };
}

/**
 * Why a login failed, as the operator can act on it: Discord refused the token (fix DISCORD_TOKEN), or Discord
 * could not be reached (the network; the token was not even checked).
 */
export function loginFailure(e: unknown): UserError {
  if (e instanceof DiscordjsError && e.code === DiscordjsErrorCodes.TokenInvalid) {
    return new UserError('bad_input', 'Discord refused the bot token: check DISCORD_TOKEN (Developer Portal → your application → Bot → Reset Token).');
  }
  return new UserError('unavailable', `Could not reach Discord to log in: ${errorMessage(e)}. Check the network connection (the token was not checked).`);
}
