/**
 * The `reprompt` command line: builds the commander program from the subcommand modules and turns every
 * failure into one line on stderr and an exit code (2: the command line was wrong; 1: anything else).
 */
import { Command, CommanderError } from 'commander';
import { isUserError, type ErrorCode } from '../engine/errors.js';

/** A subcommand module (src/cli/<name>.ts): adds its command, options and action to the program. */
export interface SubcommandModule {
  register(program: Command): void;
}

export type SubcommandLoader = () => Promise<SubcommandModule>;

/** Exit status for a bad command line (unknown option, bad value, missing option), as most CLIs use. */
const EXIT_USAGE = 2;
const EXIT_FAILURE = 1;

/** Errors the user fixes by changing the command line. */
const USAGE_ERRORS: ReadonlySet<ErrorCode> = new Set(['bad_input', 'bad_prompt']);

function buildProgram(subcommands: readonly SubcommandModule[]): Command {
  const program = new Command('reprompt')
    .description('Stable Diffusion on ONNX Runtime, with Prompt-to-Prompt editing')
    // Throw instead of exiting, and print no commander error text or help: runCli reports one line itself.
    // Subcommands inherit both settings, so they must be set before the subcommands are added.
    .exitOverride()
    .configureOutput({ outputError: () => {} });
  for (const subcommand of subcommands) subcommand.register(program);
  return program;
}

/** Parses `argv` (without node and the script), runs the chosen subcommand, and returns the exit status. */
export async function runCli(argv: readonly string[], loaders: readonly SubcommandLoader[]): Promise<number> {
  try {
    const program = buildProgram(await Promise.all(loaders.map((load) => load())));
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) return commanderExit(error);
    if (isUserError(error)) {
      reportError(error.message);
      return USAGE_ERRORS.has(error.code) ? EXIT_USAGE : EXIT_FAILURE;
    }
    reportError(`internal error: ${error instanceof Error ? error.message : String(error)}`);
    return EXIT_FAILURE;
  }
}

function commanderExit(error: CommanderError): number {
  // --help and --version have printed what was asked for; a bare `reprompt` has printed the help on stderr.
  if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help') {
    return error.exitCode;
  }
  reportError(error.message.replace(/^error: /, ''));
  return EXIT_USAGE;
}

/** `reprompt: <message>` on stderr, always on one line (commander puts its "Did you mean…?" on a second one). */
function reportError(message: string): void {
  process.stderr.write(`reprompt: ${message.trim().replace(/\s*\n\s*/g, ' ')}\n`);
}
