/**
 * Where the bot (DB_PATH) and the console driver (--db) keep their job databases unless told: outside any
 * checkout, since they hold every user's prompts — $XDG_DATA_HOME/reprompt, else ~/.local/share/reprompt.
 */
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';

export function defaultDataDir(env: Readonly<Record<string, string | undefined>>): string {
  // The XDG base-directory rules: a relative XDG_DATA_HOME is invalid and ignored.
  const xdg = env.XDG_DATA_HOME;
  if (xdg && isAbsolute(xdg)) return join(xdg, 'reprompt');
  return join(env.HOME || homedir(), '.local', 'share', 'reprompt');
}
