/** The `reprompt` program: only the subcommand that runs is loaded (fast --help), --version, exit statuses. */
import { afterEach, beforeEach, describe, expect, jest, test } from '@jest/globals';
import type { Command } from 'commander';
import { runCli, type Subcommand } from '../src/cli/program.js';
import { UserError } from '../src/engine/errors.js';

let stdout: string;
let stderr: string;
beforeEach(() => {
  stdout = '';
  stderr = '';
  jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => ((stdout += String(chunk)), true));
  jest.spyOn(process.stderr, 'write').mockImplementation((chunk) => ((stderr += String(chunk)), true));
});
afterEach(() => {
  jest.restoreAllMocks();
});

/** Two subcommands whose modules record being loaded and run. */
function fixture() {
  const loaded: string[] = [];
  const ran: string[] = [];
  const subcommand = (name: string, action: (options: { level: string }) => void): Subcommand => ({
    name,
    summary: `the ${name} command`,
    load: async () => {
      loaded.push(name);
      return {
        register(program: Command) {
          program.command(name).requiredOption('--level <n>', 'a level').action(action);
        },
      };
    },
  });
  const subcommands = [
    subcommand('draw', (o) => void ran.push(`draw ${o.level}`)),
    subcommand('fail', (o) => {
      throw new UserError(o.level === 'usage' ? 'bad_input' : 'model', `failed at ${o.level}`);
    }),
  ];
  return { loaded, ran, subcommands };
}

describe('reprompt program', () => {
  test('--help lists every subcommand with its summary and loads none of them', async () => {
    const { loaded, subcommands } = fixture();
    expect(await runCli(['--help'], subcommands, { version: '1.2.3' })).toBe(0);
    expect(stdout).toMatch(/draw +the draw command/);
    expect(stdout).toMatch(/fail +the fail command/);
    expect(stdout).toMatch(/-V, --version +print the version/);
    expect(loaded).toEqual([]);
  });

  test('--version prints the version and loads nothing', async () => {
    const { loaded, subcommands } = fixture();
    expect(await runCli(['--version'], subcommands, { version: '1.2.3' })).toBe(0);
    expect(stdout).toBe('1.2.3\n');
    expect(loaded).toEqual([]);
  });

  test('a subcommand loads only its own module; its help and `help <name>` show its options', async () => {
    const { loaded, ran, subcommands } = fixture();
    expect(await runCli(['draw', '--level', '3'], subcommands, { version: '1' })).toBe(0);
    expect(ran).toEqual(['draw 3']);
    expect(loaded).toEqual(['draw']);
    expect(await runCli(['help', 'fail'], subcommands, { version: '1' })).toBe(0);
    expect(stdout).toMatch(/Usage: reprompt fail \[options\]\n\nthe fail command[\s\S]*--level <n>/);
    expect(loaded).toEqual(['draw', 'fail']);
  });

  test('exit statuses: 2 for a wrong command line, 1 for other failures, one line each', async () => {
    const { subcommands } = fixture();
    expect(await runCli(['paint'], subcommands, { version: '1' })).toBe(2);
    expect(await runCli(['draw'], subcommands, { version: '1' })).toBe(2);
    expect(await runCli(['fail', '--level', 'usage'], subcommands, { version: '1' })).toBe(2);
    expect(await runCli(['fail', '--level', 'model'], subcommands, { version: '1' })).toBe(1);
    expect(stderr.split('\n').filter(Boolean)).toEqual([
      "reprompt: unknown command 'paint'",
      "reprompt: required option '--level <n>' not specified",
      'reprompt: failed at usage',
      'reprompt: failed at model',
    ]);
  });
});
