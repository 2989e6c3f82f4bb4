/** `reprompt <subcommand> [options]`: bin/reprompt.mjs runs this from dist/ (built by `npm ci`), else through tsx. */
import { packageVersion } from './package-root.js';
import { runCli } from './program.js';
import { SUBCOMMANDS } from './subcommands.js';

process.exitCode = await runCli(process.argv.slice(2), SUBCOMMANDS, { version: packageVersion() });
