/** `reprompt <subcommand> [options]` (bin/reprompt.mjs loads this through tsx). */
import { runCli, type SubcommandLoader } from './program.js';

/** Every subcommand, one line each: a module that exports `register(program)`. */
const SUBCOMMANDS: readonly SubcommandLoader[] = [
  () => import('./imagine.js'),
  () => import('./edit.js'),
  () => import('./vary.js'),
  () => import('./bench.js'),
  () => import('./local.js'),
  () => import('./bot.js'),
  () => import('./register.js'),
  () => import('./worker.js'),
  () => import('./bench-workers.js'),
];

process.exitCode = await runCli(process.argv.slice(2), SUBCOMMANDS);
