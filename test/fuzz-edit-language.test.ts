/**
 * Seeded, bounded fuzz of everything that reads user text before any model work: the edit language (parse,
 * compose, and the mapping to UNet controls with the bundled model's tokenizer), the bot's slash-option
 * validation and the console tokenizer. Every input must either be accepted or be refused with a UserError;
 * anything else thrown is a bug. Each input is timed: no input may take a second (a bound against pathological
 * inputs such as thousands of groups or deep nesting, not a speed test).
 *
 * The generators mix random characters (controls, NUL, the old private markers, lone surrogates, emoji,
 * combining marks, odd whitespace) with grammar-aware inputs (arrows, brackets, weights, clauses, separators).
 * A failure prints the seed and the input; FUZZ_SEED overrides the seed to explore further.
 */
import { describe, expect, test } from '@jest/globals';
import { isUserError } from '../src/engine/errors.js';
import { unusableCharacter } from '../src/engine/prompt-text.js';
import type { ClipTokenizer } from '../src/engine/tokenizer.js';
import { splitPair, tokenize } from '../src/bot/console/tokenize.js';
import { editSettingsFrom, imagineParamsFrom, requiredEditText } from '../src/bot/validate.js';
import { composeEdits } from '../src/p2p/edit/compose.js';
import { blendRowTokens, buildEditPlan } from '../src/p2p/edit/controls.js';
import { MAX_EDIT_LENGTH, parseEdit, type ParsedEdit } from '../src/p2p/edit/language.js';
import { splitWords } from '../src/p2p/edit/words.js';
import { FakeBackend } from './bot-fakes.js';
import { loadTokenizer, seededRandom } from './p2p-helpers.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20261129);
const MAX_MS_PER_INPUT = 1000;

type Random = () => number;
const int = (random: Random, n: number): number => Math.floor(random() * n);
const pick = <T,>(random: Random, items: readonly T[]): T => items[int(random, items.length)];

/** Characters chosen to hit every class the parsers treat specially. */
const ODD_CHARS = [
  '\u0000', '\u0001', '\u0007', '\u001B', '\u007F', '\u0085', '\t', '\n', '\r', '\v', '\f', ' ', '\u00A0', '\u2028', '\u3000',
  '\u{E000}', '\u{E001}', '\u{F0000}', '\uD800', '\uDFFF', '\u200B', '\u200D', '\u202E', '\uFEFF', '\u0301', '\uFFFD',
  '😀', '👩‍👩‍👧', 'é', 'ß', 'İ', 'ﬁ', '猫', 'кот', '٣', '½',
];
const GRAMMAR_CHARS = ['(', ')', ':', ';', ',', '→', '->', '-', '=', '.', '+', '"', "'", '\\', 'blend:', 'cross:', '0', '1', '2', '.5', '10', '11', 'e3'];
const WORDS = ['a', 'cat', 'dog', 'red', 'bicycle', 'riding', 'the', 'mat', 'Cat,', 'dog.', 'sky', 'fox', 'big', 'wolf', '(tabby)', 'x:2'];

function randomText(random: Random, maxLength: number): string {
  const length = int(random, maxLength + 1);
  let text = '';
  for (let i = 0; i < length; i++) {
    const r = random();
    if (r < 0.3) text += pick(random, ODD_CHARS);
    else if (r < 0.55) text += pick(random, GRAMMAR_CHARS);
    else if (r < 0.8) text += pick(random, WORDS) + ' ';
    else text += String.fromCodePoint(int(random, 0x3000));
  }
  return text;
}

const randomNumber = (random: Random): string =>
  pick(random, ['1.5', '2', '-1', '.5', '0', '10', '-10', '10.01', '1e3', 'abc', '', '+3', '007', '1.', '-0', 'NaN', 'Infinity', String(random() * 30 - 15)]);

const randomWindow = (random: Random): string =>
  pick(random, [String(random().toFixed(2)), `${random().toFixed(2)}-${random().toFixed(2)}`, '1.5', '0', '1', '.4', '0.2-0.6', 'x', '-0.1', '0.6-0.2']);

/** A grammar-aware edit of `source`: swaps, weighted groups, full prompts and clauses, sometimes broken. */
function grammarEdit(random: Random, source: string): string {
  const words = splitWords(source);
  const phrase = (): string => {
    const start = int(random, words.length);
    return words.slice(start, start + 1 + int(random, 2)).join(' ');
  };
  const group = (): string => `(${random() < 0.8 ? pick(random, WORDS) : phrase()}:${randomNumber(random)})`;
  const newWords = (): string => Array.from({ length: 1 + int(random, 3) }, () => (random() < 0.3 ? group() : pick(random, WORDS))).join(random() < 0.1 ? '' : ' ');
  const arrow = (): string => pick(random, ['→', '->', ' -> ', '→→', '']);
  let body: string;
  const kind = random();
  if (kind < 0.45) body = Array.from({ length: 1 + int(random, 3) }, () => `${random() < 0.85 ? phrase() : pick(random, WORDS)}${arrow()}${newWords()}`).join(pick(random, [', ', ';', ',', ' ,, ', ';;']));
  else if (kind < 0.6) body = words.map((w) => (random() < 0.3 ? `(${w}:${randomNumber(random)})` : w)).join(' ');
  else if (kind < 0.7) body = Array.from({ length: 1 + int(random, 3) }, group).join(' ');
  else if (kind < 0.8) body = newWords() + ' ' + newWords();
  else if (kind < 0.88) body = '('.repeat(int(random, 40)) + phrase() + ':' + randomNumber(random) + ')'.repeat(int(random, 40));
  else if (kind < 0.94) body = Array.from({ length: int(random, 400) }, () => `(${pick(random, WORDS)}:1.5)`).join(random() < 0.5 ? ' ' : '');
  else body = randomText(random, 30);
  const clauses: string[] = [];
  if (random() < 0.25) clauses.push(`blend: ${Array.from({ length: int(random, 3) }, () => pick(random, WORDS)).join(pick(random, [' ', ', ']))}`);
  if (random() < 0.25) clauses.push(`cross: ${Array.from({ length: int(random, 3) }, () => `${pick(random, WORDS)}=${randomWindow(random)}`).join(', ')}`);
  if (random() < 0.1) clauses.push(pick(random, ['', ' ', 'Blend :dog', 'cross:=', 'blend', ';']));
  return [body, ...clauses].join(pick(random, ['; ', ';', ' ; ']));
}

const SOURCES = ['a cat riding a red bicycle', 'a Cat, sitting by a cat.', 'a cat on a mat', 'a (tabby) cat on a mat', 'a fox', 'big big big dog'];

/** Runs `body` on one input: counts it, times it, and records anything thrown that is not a UserError. */
class Harness {
  inputs = 0;
  accepted = 0;
  maxMs = 0;
  slowest = '';
  readonly crashes: string[] = [];

  run<T>(input: unknown, body: () => T): T | undefined {
    this.inputs++;
    const started = performance.now();
    try {
      const result = body();
      this.accepted++;
      return result;
    } catch (error) {
      if (!isUserError(error)) this.crashes.push(`${JSON.stringify(input)} → ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      return undefined;
    } finally {
      const ms = performance.now() - started;
      if (ms > this.maxMs) [this.maxMs, this.slowest] = [ms, JSON.stringify(input).slice(0, 200)];
    }
  }

  /** Asserts the bounds and prints the figures. */
  check(name: string, minimum: number): void {
    console.log(`${name}: ${this.inputs} inputs (seed ${SEED}), ${this.accepted} accepted, slowest ${this.maxMs.toFixed(1)} ms: ${this.slowest}`);
    expect(this.crashes.slice(0, 5)).toEqual([]);
    expect(this.inputs).toBeGreaterThanOrEqual(minimum);
    expect(this.maxMs).toBeLessThan(MAX_MS_PER_INPUT);
  }
}

/** What every accepted edit must satisfy. */
function checkParsed(edit: ParsedEdit, text: string): void {
  const words = splitWords(edit.target);
  const problems: string[] = [];
  if (edit.target.trim() === '' || words.some((w) => w === '')) problems.push('empty target or empty word');
  if (unusableCharacter(edit.target)) problems.push('unusable character in the target');
  if (edit.weights.some((w) => w.wordIndices?.some((i) => i < 0 || i >= words.length))) problems.push('weight outside the target');
  if (edit.perWordCross?.some((c) => c.wordIndices.length === 0)) problems.push('cross window on no word');
  if (problems.length > 0) throw new Error(`${problems.join(', ')}: ${JSON.stringify(text)} → ${JSON.stringify(edit)}`);
}

describe('fuzz (seeded, bounded)', () => {
  test('edit language: parse, compose, and controls with the bundled tokenizer', async () => {
    const tokenizer: ClipTokenizer = await loadTokenizer();
    const random = seededRandom(SEED);
    const h = new Harness();
    const acceptedEdits: { source: string; edit: string }[] = [];
    for (let i = 0; i < 6000; i++) {
      const source = i % 10 === 0 ? randomText(random, 20) : pick(random, SOURCES);
      const edit = i % 2 === 0 ? randomText(random, 40) : grammarEdit(random, source);
      const parsed = h.run({ source, edit }, () => {
        const result = parseEdit({ source, edit });
        checkParsed(result, edit);
        return result;
      });
      if (!parsed) continue;
      acceptedEdits.push({ source, edit });
      // The mapping to UNet controls is the costly part: every few accepted edits, and never a crash either.
      if (acceptedEdits.length % 3 === 0) {
        h.run({ source, edit, controls: true }, () => {
          const plan = buildEditPlan(parsed, tokenizer, { steps: 3 });
          blendRowTokens(plan, tokenizer);
        });
      }
    }
    // Composition: a second edit of an accepted edit's image; what it returns must parse as an edit of the source.
    let composed = 0;
    for (let i = 0; i < 2000 && acceptedEdits.length > 0; i++) {
      const previous = pick(random, acceptedEdits);
      const image = h.run({ previous }, () => parseEdit(previous))!;
      const next = random() < 0.8 ? grammarEdit(random, image.target) : randomText(random, 30);
      h.run({ previous, next }, () => {
        const text = composeEdits(previous, next);
        checkParsed(parseEdit({ source: previous.source, edit: text }), text);
        composed++;
      });
    }
    // The length cap holds for any content.
    h.run({ long: true }, () => expect(() => parseEdit({ source: 'a cat', edit: 'cat→dog '.repeat(MAX_EDIT_LENGTH) })).toThrow(/the limit is/));
    h.check('edit language', 8000);
    // The grammar-aware half must reach past the first error, in parsing and in composing.
    console.log(`compositions accepted: ${composed} of 2000`);
    expect(h.accepted).toBeGreaterThan(1000);
    expect(composed).toBeGreaterThan(100);
  });

  test('slash-option validation', () => {
    const random = seededRandom(SEED + 1);
    const limits = new FakeBackend().limits;
    const defaults = { steps: 4, size: 64, guidance: 7.5, count: 1 };
    const value = (): string | number | boolean | undefined =>
      pick(random, [
        () => undefined,
        () => randomText(random, 30),
        () => random() * 4000 - 1000,
        () => int(random, 300),
        () => pick(random, [true, false, NaN, Infinity, -0, 1e308]),
        () => pick(random, ['', ' ', '12', '0x10', '1e2', '#3', '-5', String(2 ** 64), 'pndm', 'euler', 'ddim']),
        () => 'x'.repeat(int(random, 1100)),
      ])();
    const h = new Harness();
    for (let i = 0; i < 2000; i++) {
      const options = Object.fromEntries(
        ['prompt', 'negative', 'seed', 'steps', 'cfg', 'width', 'height', 'sampler', 'edit', 'cross', 'self', 'blend'].flatMap((name) => {
          const v = value();
          return v === undefined ? [] : [[name, v]];
        }),
      );
      h.run(options, () => imagineParamsFrom(options, limits, defaults));
      h.run(options, () => editSettingsFrom(options, limits));
      h.run(options, () => requiredEditText(options));
    }
    h.check('slash options', 6000);
  });

  test('console tokenizer', () => {
    const random = seededRandom(SEED + 2);
    const h = new Harness();
    for (let i = 0; i < 3000; i++) {
      const line = i % 3 === 0 ? randomText(random, 60) : Array.from({ length: int(random, 8) }, () => pick(random, ['/edit', 'edit:"a→b"', "'x y'", '\\"', '\\', 'k=v', '  ', 'prompt:"a red fox"', '"', "'", randomText(random, 6)])).join(pick(random, [' ', '\t', '']));
      const tokens = h.run(line, () => tokenize(line));
      if (!tokens) continue;
      // Quoting the tokens back reproduces them (each token survives a round trip).
      h.run({ line, roundTrip: true }, () => {
        const quoted = tokens.map((t) => `"${t.replace(/[\\"]/g, (c) => `\\${c}`)}"`).join(' ');
        const again = tokenize(quoted);
        if (JSON.stringify(again) !== JSON.stringify(tokens)) throw new Error(`round trip: ${JSON.stringify(tokens)} → ${JSON.stringify(again)}`);
        for (const token of tokens) splitPair(token, i % 2 === 0 ? ':' : '=');
      });
    }
    h.check('console tokenizer', 4000);
  });
});
