/**
 * A seeded, bounded fuzz of the command-line checks of `reprompt imagine` and `reprompt edit`: random and boundary
 * values for every option go through the real commander program and the checks that run before a model is loaded
 * (the subcommand's action is replaced by its prepare step, so nothing is loaded or drawn). Every command line
 * must either pass or be refused as a usage error (exit 2) — never another exception — and each must be fast.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { prepareEdit, type EditOptions } from '../src/cli/edit.js';
import { prepareImagine, type GenerationOptions } from '../src/cli/imagine.js';
import { buildProgram, isUsageError } from '../src/cli/program.js';
import { SUBCOMMANDS } from '../src/cli/subcommands.js';
import { SIZE_RANGE, STEPS_RANGE } from '../src/engine/limits.js';
import { seededRandom } from './p2p-helpers.js';

const SEED = 20261129;
const CASES = 4000;
const SLOWEST_MS = 1000;

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'reprompt-fuzz-cli-'));
  mkdirSync(join(dir, 'folder'));
  writeFileSync(join(dir, 'existing.png'), 'old');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const random = seededRandom(SEED);
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
const chance = (p: number): boolean => random() < p;

function randomText(): string {
  const alphabet = ['a', 'z', ' ', ',', '.', '-', '→', '->', '(', ')', ':', ';', '=', '\\', '"', "'", '#', '\n', '\t', '\0', '\uE000', '\uE001', 'é', '🦊', '\u200b', '1', '0.5', 'e', '+'];
  return Array.from({ length: Math.floor(random() * 24) }, () => pick(alphabet)).join('');
}

/** Mostly a valid value (so that the checks after the first one run too), else a boundary or garbage. */
function randomNumberText(min: number, max: number, step = 1): string {
  if (chance(0.6)) return String(min + step * Math.floor(random() * ((max - min) / step + 1)));
  return pick([
    String(min), String(min - 1), String(max), String(max + 1), '0', '-0', '-1', '1', String(Math.floor(random() * (max - min + 1)) + min),
    String(random() * (max - min) + min), 'NaN', 'Infinity', '-Infinity', '1e3', '0x40', '  64 ', '', ' ', '9007199254740993', '1.5', '+8', randomText(),
  ]);
}

const fraction = (): string => (chance(0.5) ? pick(['0.4', '0.2,0.6']) : pick(['0', '1', '0.5', '-0.1', '1.1', '2', '-1', 'NaN', '', ',', '0.9,0.1', '0.1,0.9', '0,1', '0.5,0.5', '1,0', '0.2,0.6,0.8', ' 0.3 , 0.4 ', randomText()]));

const path = (): string =>
  chance(0.6) ? join(dir, 'new.png') : pick([
    join(dir, 'new.png'), join(dir, 'existing.png'), join(dir, 'folder'), join(dir, 'missing', 'deeper', 'x.png'), join(dir, 'existing.png', 'x.png'),
    '/proc/x.png', '/dev/full', '/dev/null', '/', '', ' ', join(dir, randomText().replace(/[\0/]/g, '_') || 'x'), `${dir}/\0x.png`,
  ]);

/** Option name → a generator of its value (undefined: a flag without a value). */
const GENERATION_OPTIONS: Record<string, () => string | undefined> = {
  '--prompt': () => (chance(0.7) ? 'a cat on a mat' : pick(['', ' ', 'cat', '#1 fan', 'x'.repeat(3000), randomText()])),
  '--negative': () => pick(['', 'blurry', randomText()]),
  '--seed': () => randomNumberText(0, 2 ** 53),
  '--steps': () => randomNumberText(STEPS_RANGE.min, STEPS_RANGE.max),
  '--cfg': () => randomNumberText(-30, 30),
  '--width': () => randomNumberText(SIZE_RANGE.min, SIZE_RANGE.max, 8),
  '--height': () => randomNumberText(SIZE_RANGE.min, SIZE_RANGE.max, 8),
  '--scheduler': () => pick(['ddim', 'pndm', 'euler', 'euler-a', 'lms', 'dpm++', 'lcm', 'heun', '', randomText()]),
  '--save-latents': path,
  '--attention-out': path,
  '--model': () => pick([dir, join(dir, 'missing')]),
  '--provider': () => (chance(0.7) ? 'cpu' : pick(['cuda', 'webgpu', 'dml', '', randomText()])),
  '--threads': () => randomNumberText(1, 64),
};

const EDIT_OPTIONS: Record<string, () => string | undefined> = {
  '--edit': () => (chance(0.5) ? 'cat→dog' : pick([ 'cat->dog', '(cat:1.5)', 'cat→dog; blend: cat dog', 'cat→dog; cross: dog=0.4', 'dog→wolf', '→', '(', 'cat→(dog:2)(lion:3)', 'cat→dog;;', '', randomText()])),
  '--target': () => pick(['a dog on a mat', '', randomText()]),
  '--reweight': () => pick(['cat=2', 'cat=2,mat=-1', '=2', 'cat=', 'cat', '', randomText()]),
  '--blend': () => pick(['cat dog', 'cat,dog', '', ' ', randomText()]),
  '--cross': fraction,
  '--self': fraction,
  '--self-res': () => randomNumberText(1, 64),
  '--edit-cfg': () => randomNumberText(-30, 30),
  '--reference-mapper': () => undefined,
  '--source-out': path,
};

function commandLine(): string[] {
  const command = pick(['imagine', 'edit']);
  const options = command === 'edit' ? { ...GENERATION_OPTIONS, ...EDIT_OPTIONS } : GENERATION_OPTIONS;
  // --out is always given, so that no default output name is checked in the working directory.
  const argv = [command, '--out', path()];
  for (const [name, value] of Object.entries(options)) {
    if (!chance(name === '--prompt' ? 0.95 : name === '--edit' ? 0.8 : 0.3)) continue;
    const text = value();
    if (text === undefined) argv.push(name);
    else if (chance(0.2)) argv.push(`${name}=${text}`);
    else argv.push(name, text);
  }
  if (chance(0.02)) argv.push(pick(['--bogus', 'extra', '-x', '--']));
  return argv;
}

/** Parses and checks one command line as `reprompt` would, up to the point where the model would load. */
async function check(argv: readonly string[]): Promise<'accepted'> {
  const program = await buildProgram(argv, SUBCOMMANDS, { version: '0.0.0' });
  const command = program.commands.find((c: Command) => c.name() === argv[0])!;
  command.action((options: GenerationOptions & EditOptions) => {
    if (argv[0] === 'edit') prepareEdit(options);
    else prepareImagine(options);
  });
  // Commander's help and errors are reported by runCli; here they must stay quiet.
  program.configureOutput({ writeOut: () => {}, writeErr: () => {}, outputError: () => {} });
  await program.parseAsync([...argv], { from: 'user' });
  return 'accepted';
}

describe('fuzz of the CLI option checks', () => {
  test(`${CASES} seeded command lines: each accepted or refused as a usage error, none slower than ${SLOWEST_MS} ms`, async () => {
    const unexpected: { argv: string[]; error: string }[] = [];
    const outcomes = { accepted: 0, refused: 0 };
    let slowest = { ms: 0, argv: [] as string[] };
    for (let i = 0; i < CASES; i++) {
      const argv = commandLine();
      const started = performance.now();
      try {
        await check(argv);
        outcomes.accepted++;
      } catch (error) {
        if (isUsageError(error)) outcomes.refused++;
        else unexpected.push({ argv, error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) });
      }
      const ms = performance.now() - started;
      if (ms > slowest.ms) slowest = { ms, argv };
    }
    expect(unexpected.slice(0, 5)).toEqual([]);
    // Both outcomes are well represented: the generator is neither all-valid nor all-garbage.
    expect(outcomes.accepted).toBeGreaterThan(CASES / 20);
    expect(outcomes.refused).toBeGreaterThan(CASES / 4);
    expect(slowest.ms).toBeLessThan(SLOWEST_MS);
    // Checking wrote nothing but the fixtures (the write probe cleans up after itself).
    expect(readdirSync(dir).sort()).toEqual(['existing.png', 'folder']);
  });

  test.each([
    [['imagine', '--prompt', 'x', '--width', String(SIZE_RANGE.min)], true],
    [['imagine', '--prompt', 'x', '--width', String(SIZE_RANGE.max)], true],
    [['imagine', '--prompt', 'x', '--width', String(SIZE_RANGE.min - 8)], false],
    [['imagine', '--prompt', 'x', '--width', String(SIZE_RANGE.max + 8)], false],
    [['imagine', '--prompt', 'x', '--steps', String(STEPS_RANGE.max)], true],
    [['imagine', '--prompt', 'x', '--steps', String(STEPS_RANGE.max + 1)], false],
    [['imagine', '--prompt', ' '], false],
    [['edit', '--prompt', 'a cat', '--edit', 'cat→dog', '--cross', '0,1'], true],
    [['edit', '--prompt', 'a cat', '--edit', 'cat→dog', '--cross', '1.0001'], false],
    [['edit', '--prompt', 'a cat', '--edit', 'cat→dog', '--target', 'a dog'], false],
    [['edit', '--prompt', 'a cat', '--edit', 'cow→dog'], false],
  ])('boundary %j accepted: %s', async (argv, accepted) => {
    const outcome = await check([...argv, '--out', join(dir, 'new.png')]).catch((error: unknown) => {
      if (!isUsageError(error)) throw error;
      return 'refused';
    });
    expect(outcome).toBe(accepted ? 'accepted' : 'refused');
  });
});
