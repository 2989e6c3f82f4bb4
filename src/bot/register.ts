/**
 * Registers the command definitions of commands/ with Discord (a bulk overwrite): in one guild when
 * DISCORD_GUILD_ID is set (updates instantly, for development), globally otherwise.
 */
import { REST, Routes, type RESTPostAPIApplicationCommandsJSONBody } from 'discord.js';

export interface RegisterTarget {
  token: string;
  appId: string;
  guildId?: string;
}

/** The part of discord.js' REST client registration uses (tests pass a recorder). */
export interface CommandsApi {
  put(route: `/${string}`, options: { body: unknown }): Promise<unknown>;
}

export interface Registered {
  scope: 'guild' | 'global';
  names: string[];
}

export async function registerCommands(
  target: RegisterTarget,
  definitions: readonly RESTPostAPIApplicationCommandsJSONBody[],
  api: CommandsApi = new REST().setToken(target.token),
): Promise<Registered> {
  const route = target.guildId ? Routes.applicationGuildCommands(target.appId, target.guildId) : Routes.applicationCommands(target.appId);
  await api.put(route, { body: definitions });
  return { scope: target.guildId ? 'guild' : 'global', names: definitions.map((d) => d.name) };
}
