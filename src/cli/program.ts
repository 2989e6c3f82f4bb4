/**
 * The `reprompt` command line: builds the commander program, loading only the subcommand that runs (so that
 * `reprompt --help` and `--version` import no engine, Discord or ONNX Runtime code), and turns every failure into
 * one line on stderr and an exit code (2: the command line was wrong; 1: anything else).
 */
import { Command, CommanderError } from 'commander';
import { isUserError, type ErrorCode } from '../engine/errors.js';

/** A subcommand module (src/cli/<name>.ts): adds its command, options and action to the program. */
export interface SubcommandModule {
  register(program: Command): void;
}

export type SubcommandLoader = () => Promise<SubcommandModule>;

/** A subcommand as `reprompt --help` lists it; its module is loaded only when it is the one that runs. */
export interface Subcommand {
  name: string;
  /** One line: the description of the command in every help text. */
  summary: string;
  load: SubcommandLoader;
}

export interface CliInfo {
  /** Printed by `reprompt --version`. */
  version: string;
}

/** Exit status for a bad command line (unknown option, bad value, missing option), as most CLIs use. */
const EXIT_USAGE = 2;
const EXIT_FAILURE = 1;

/** Errors the user fixes by changing the command line. */
const USAGE_ERRORS: ReadonlySet<ErrorCode> = new Set(['bad_input', 'bad_prompt']);

/**
 * The program with every subcommand named, and the one that `argv` runs (if any) loaded with its options.
 * Exported for tests that parse command lines without running them.
 */
export async function buildProgram(argv: readonly string[], subcommands: readonly Subcommand[], info: CliInfo): Promise<Command> {
  const program = new Command('reprompt')
    .description('Stable Diffusion on ONNX Runtime, with Prompt-to-Prompt editing')
    .version(info.version, '-V, --version', 'print the version')
    // Throw instead of exiting, and print no commander error text or help: runCli reports one line itself.
    // Subcommands inherit both settings, so they must be set before the subcommands are added.
    .exitOverride()
    .configureOutput({ outputError: () => {} });
  const wanted = requestedSubcommand(argv);
  for (const subcommand of subcommands) {
    if (subcommand.name !== wanted) {
      program.command(subcommand.name).description(subcommand.summary);
      continue;
    }
    (await subcommand.load()).register(program);
    const command = program.commands.find((c) => c.name() === subcommand.name);
    if (!command) throw new Error(`the module of \`${subcommand.name}\` registered no command of that name`);
    if (!command.description()) command.description(subcommand.summary);
  }
  return program;
}

/** The subcommand `argv` names: its first word that is not an option (after `help`, as in `reprompt help edit`). */
function requestedSubcommand(argv: readonly string[]): string | undefined {
  const words = argv.filter((arg) => !arg.startsWith('-'));
  return words[0] === 'help' ? words[1] : words[0];
}

/** Parses `argv` (without node and the script), runs the chosen subcommand, and returns the exit status. */
export async function runCli(argv: readonly string[], subcommands: readonly Subcommand[], info: CliInfo): Promise<number> {
  try {
    const program = await buildProgram(argv, subcommands, info);
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) return commanderExit(error);
    if (isUserError(error)) {
      reportError(error.message);
      return isUsageError(error) ? EXIT_USAGE : EXIT_FAILURE;
    }
    reportError(`internal error: ${error instanceof Error ? error.message : String(error)}`);
    return EXIT_FAILURE;
  }
}

/** A mistake in the command line (exit status 2): a commander error (unknown option, bad value) or a UserError saying so. */
export function isUsageError(error: unknown): boolean {
  if (error instanceof CommanderError) return !['commander.helpDisplayed', 'commander.version', 'commander.help'].includes(error.code);
  return isUserError(error) && USAGE_ERRORS.has(error.code);
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
