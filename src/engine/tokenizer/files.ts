/**
 * Reads and checks a Hugging Face CLIP tokenizer folder (vocab.json, merges.txt and the optional
 * tokenizer_config.json / special_tokens_map.json), resolving the settings the way transformers does.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UserError } from '../errors.js';
import { mergeKey } from './bpe.js';

export interface SpecialTokens {
  bos: string;
  eos: string;
  unk: string;
  pad: string;
}

export interface TokenizerFiles {
  vocab: Map<string, number>;
  /** merge rank per mergeKey(a, b) */
  mergeRanks: Map<string, number>;
  special: SpecialTokens;
  maxLength: number;
  /** transformers' `clean_up_tokenization_spaces` (default true): decode joins " ," to ",", " 's" to "'s"… */
  cleanUpSpaces: boolean;
}

/** CLIPTokenizer's constructor defaults, used for any token neither JSON file sets. */
const DEFAULT_SPECIAL: SpecialTokens = { bos: '<|startoftext|>', eos: '<|endoftext|>', unk: '<|endoftext|>', pad: '<|endoftext|>' };
/** CLIP's context length; SD's text encoders have exactly this many positions. */
const DEFAULT_MAX_LENGTH = 77;
/** transformers saves model_max_length as int(1e30) when it was never set: that means "unknown", not a length. */
const UNSET_MAX_LENGTH = 1e29;
/** CLIPTokenizer reads at most this many merges (49152 BPE tokens - 256 bytes - 2 specials), skipping line 1. */
const MAX_MERGES = 49152 - 256 - 2;

const SPECIAL_KEYS: Record<keyof SpecialTokens, string> = { bos: 'bos_token', eos: 'eos_token', unk: 'unk_token', pad: 'pad_token' };

function fileError(path: string, problem: string, expected: string): UserError {
  return new UserError('model', `Tokenizer file ${path} ${problem}; expected ${expected}.`);
}

async function readText(path: string, expected: string, optional: true): Promise<string | undefined>;
async function readText(path: string, expected: string, optional?: false): Promise<string>;
async function readText(path: string, expected: string, optional = false): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && optional) return undefined;
    throw fileError(path, code === 'ENOENT' ? 'is missing' : `could not be read (${(e as Error).message})`, expected);
  }
}

function parseJsonObject(path: string, text: string, expected: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw fileError(path, 'is not valid JSON', expected);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw fileError(path, 'is not a JSON object', expected);
  return value as Record<string, unknown>;
}

async function readVocab(path: string): Promise<Map<string, number>> {
  const expected = 'a JSON object mapping each BPE token to its integer id';
  const json = parseJsonObject(path, await readText(path, expected), expected);
  const vocab = new Map<string, number>();
  for (const [token, id] of Object.entries(json)) {
    if (!Number.isInteger(id) || (id as number) < 0) throw fileError(path, `gives token ${JSON.stringify(token)} the id ${JSON.stringify(id)}`, expected);
    vocab.set(token, id as number);
  }
  if (vocab.size === 0) throw fileError(path, 'is empty', expected);
  return vocab;
}

async function readMergeRanks(path: string): Promise<Map<string, number>> {
  const expected = "a '#version' header line, then one merge per line: two BPE symbols separated by a space";
  // Like transformers: trim the file, drop its first line whatever it says, keep at most MAX_MERGES lines.
  const lines = (await readText(path, expected)).trim().split('\n').slice(1, 1 + MAX_MERGES);
  if (lines.length === 0) throw fileError(path, 'has no merges', expected);
  const ranks = new Map<string, number>();
  lines.forEach((line, rank) => {
    const parts = line.trim().split(/\s+/);
    if (parts.length !== 2) throw fileError(path, `has a malformed line ${rank + 2} (${JSON.stringify(line)})`, expected);
    ranks.set(mergeKey(parts[0], parts[1]), rank);
  });
  return ranks;
}

/** A special token is written either as its text or as an AddedToken object `{ content, lstrip, … }`. */
function tokenContent(path: string, key: string, value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  const content = typeof value === 'object' ? (value as { content?: unknown }).content : value;
  if (typeof content === 'string' && content.length > 0) return content;
  throw fileError(path, `has an unreadable ${key}`, `${key} as a non-empty string or an object with such a "content"`);
}

async function readOptionalJson(path: string, expected: string): Promise<Record<string, unknown>> {
  const text = await readText(path, expected, true);
  return text === undefined ? {} : parseJsonObject(path, text, expected);
}

export async function readTokenizerFiles(dir: string): Promise<TokenizerFiles> {
  const configPath = join(dir, 'tokenizer_config.json');
  const specialMapPath = join(dir, 'special_tokens_map.json');
  const [vocab, mergeRanks, config, specialMap] = await Promise.all([
    readVocab(join(dir, 'vocab.json')),
    readMergeRanks(join(dir, 'merges.txt')),
    readOptionalJson(configPath, 'a JSON object of tokenizer settings'),
    readOptionalJson(specialMapPath, 'a JSON object of special tokens'),
  ]);

  // transformers lets special_tokens_map.json override tokenizer_config.json.
  const special = { ...DEFAULT_SPECIAL };
  for (const name of Object.keys(SPECIAL_KEYS) as (keyof SpecialTokens)[]) {
    const key = SPECIAL_KEYS[name];
    const content = tokenContent(specialMapPath, key, specialMap[key]) ?? tokenContent(configPath, key, config[key]);
    if (content !== undefined) special[name] = content;
    if (!vocab.has(special[name])) {
      throw fileError(join(dir, 'vocab.json'), `has no entry for the ${key} ${JSON.stringify(special[name])}`, 'every special token in the vocabulary');
    }
  }

  const configured = config.model_max_length;
  const maxLength = configured === undefined || (typeof configured === 'number' && configured >= UNSET_MAX_LENGTH) ? DEFAULT_MAX_LENGTH : configured;
  if (!Number.isInteger(maxLength) || (maxLength as number) < 2) {
    throw fileError(configPath, `has model_max_length ${JSON.stringify(maxLength)}`, 'an integer of at least 2 (77 for CLIP)');
  }
  const cleanUpSpaces = config.clean_up_tokenization_spaces ?? true;
  if (typeof cleanUpSpaces !== 'boolean') {
    throw fileError(configPath, `has clean_up_tokenization_spaces ${JSON.stringify(cleanUpSpaces)}`, 'true or false');
  }
  return { vocab, mergeRanks, special, maxLength: maxLength as number, cleanUpSpaces };
}
