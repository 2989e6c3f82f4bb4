import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isUserError } from '../src/engine/errors.js';
import { readNpy } from '../src/engine/npy.js';
import { ClipTokenizer } from '../src/engine/tokenizer.js';
import { referenceCases, referencePath, tinyModelDir } from './helpers.js';

interface TokenizerCase {
  index: number;
  prompt: string;
  unpadded_ids: number[];
  n_tokens_unpadded: number;
  tokens: string[];
  truncated: boolean;
}
interface TokenizerReference {
  bos_id: number;
  eos_id: number;
  pad_id: number;
  model_max_length: number;
  input_ids_padded: { file: string; shape: [number, number] };
  cases: TokenizerCase[];
}

const reference = referenceCases<{ tokenizer: TokenizerReference }>().tokenizer;
const tokenizerDir = join(tinyModelDir, 'tokenizer');
const scratchDir = mkdtempSync(join(tmpdir(), 'tokenizer-test-'));

/** A copy of the bundled tokenizer folder, changed by `edit`, for configurations the fixture does not ship. */
function tokenizerVariant(name: string, edit: (dir: string) => void): string {
  const dir = join(scratchDir, name);
  cpSync(tokenizerDir, dir, { recursive: true });
  edit(dir);
  return dir;
}

function editJson(path: string, change: (json: Record<string, unknown>) => void): void {
  const json = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  change(json);
  writeFileSync(path, JSON.stringify(json));
}

async function loadError(dir: string): Promise<unknown> {
  return ClipTokenizer.load(dir).then(
    () => undefined,
    (e: unknown) => e,
  );
}

let tokenizer: ClipTokenizer;
beforeAll(async () => {
  tokenizer = await ClipTokenizer.load(tokenizerDir);
});
afterAll(() => rmSync(scratchDir, { recursive: true, force: true }));

describe('ClipTokenizer on the bundled SD 1.5 tokenizer', () => {
  test('reads the special ids, vocabulary size and length from the files', () => {
    const vocab = JSON.parse(readFileSync(join(tokenizerDir, 'vocab.json'), 'utf8')) as Record<string, number>;
    expect(tokenizer.bosId).toBe(reference.bos_id);
    expect(tokenizer.eosId).toBe(reference.eos_id);
    expect(tokenizer.padId).toBe(reference.pad_id);
    expect(tokenizer.maxLength).toBe(reference.model_max_length);
    expect(tokenizer.vocabSize).toBe(Object.keys(vocab).length);
  });

  const padded = readNpy(referencePath(reference.input_ids_padded.file));
  const width = reference.input_ids_padded.shape[1];
  const paddedRow = (i: number): number[] => Array.from(padded.data.subarray(i * width, (i + 1) * width), Number);

  test.each(reference.cases.map((c) => [c.index, JSON.stringify(c.prompt).slice(0, 48), c] as const))(
    'case %i %s: tokens, ids and padded row match transformers',
    (_index, _label, c) => {
      expect(['<|startoftext|>', ...tokenizer.tokenize(c.prompt), '<|endoftext|>']).toEqual(c.tokens);
      expect(tokenizer.encode(c.prompt)).toEqual(c.unpadded_ids);
      const { ids, tokenCount, truncated } = tokenizer.encodePadded(c.prompt);
      expect(Array.from(ids)).toEqual(paddedRow(c.index));
      expect(tokenCount).toBe(Math.min(c.n_tokens_unpadded, tokenizer.maxLength));
      expect(truncated.length > 0).toBe(c.truncated);
    },
  );

  test('a prompt over 77 tokens keeps BOS + the first 75 tokens + EOS and reports the cut words', () => {
    const long = reference.cases.find((c) => c.truncated)!;
    expect(long.unpadded_ids.length).toBeGreaterThan(tokenizer.maxLength);
    const { ids, tokenCount, truncated } = tokenizer.encodePadded(long.prompt);
    expect(tokenCount).toBe(77);
    expect(Array.from(ids)).toEqual([...long.unpadded_ids.slice(0, 76), tokenizer.eosId]);
    // The cut tokens (all plain ASCII here) spelled out word by word.
    const cutWords = long.tokens.slice(76, -1).join('').split('</w>').filter(Boolean);
    expect(truncated).toEqual(cutWords);
    expect(cutWords.length).toBeGreaterThan(0);
  });

  test('cleans text like BasicTokenizer: controls and zero-width characters dropped, Unicode spaces split, NFC', () => {
    const plain = reference.cases[0]; // "a photo of a cat"
    expect(tokenizer.encode('a photo\u0000 of\u00a0a\u3000cat\u200b\u0007')).toEqual(plain.unpadded_ids);
    expect(tokenizer.encode('A\u2028PHOTO\r\nof a\u2003cat')).toEqual(plain.unpadded_ids);
    const accented = reference.cases.find((c) => c.prompt.startsWith('café'))!;
    expect(tokenizer.encode(accented.prompt.normalize('NFD'))).toEqual(accented.unpadded_ids);
  });

  test('decodes ids back to text', () => {
    const cat = reference.cases[0];
    const catId = cat.unpadded_ids[cat.tokens.indexOf('cat</w>')];
    expect(tokenizer.decodeToken(catId)).toBe('cat');
    expect(tokenizer.decode(cat.unpadded_ids)).toBe('<|startoftext|>a photo of a cat <|endoftext|>');
    // Multi-byte characters split over several BPE tokens come back whole.
    const accented = reference.cases.find((c) => c.prompt.startsWith('café'))!;
    expect(tokenizer.decode(accented.unpadded_ids.slice(1, -1))).toBe(accented.prompt.toLowerCase());
    expect(() => tokenizer.decodeToken(tokenizer.vocabSize + 5)).toThrow(RangeError);
  });

  test('"!" is an ordinary token for SD 1.x', () => {
    // Same ids as OpenAI/open_clip's tokenizer gives (diffusers issue #4153).
    expect(tokenizer.encode('! !! !!!')).toEqual([49406, 256, 748, 995, 49407]);
  });
});

describe('ClipTokenizer with an SD 2-style config (pad token "!")', () => {
  let sd2: ClipTokenizer;
  beforeAll(async () => {
    sd2 = await ClipTokenizer.load(
      tokenizerVariant('sd2', (dir) => {
        editJson(join(dir, 'special_tokens_map.json'), (json) => (json.pad_token = '!'));
        editJson(join(dir, 'tokenizer_config.json'), (json) => (json.pad_token = '!'));
      }),
    );
  });

  test('pads with id 0', () => {
    expect(sd2.padId).toBe(0);
    const plain = reference.cases[0];
    const { ids, tokenCount } = sd2.encodePadded(plain.prompt);
    expect(Array.from(ids.subarray(0, tokenCount))).toEqual(plain.unpadded_ids);
    expect(ids.subarray(tokenCount).every((id) => id === 0)).toBe(true);
  });

  test('a typed "!" is the special pad token, as transformers splits every special token out (diffusers #4153)', () => {
    expect(sd2.encode('! !! !!!')).toEqual([49406, 0, 0, 0, 0, 0, 0, 49407]);
  });
});

describe('ClipTokenizer.load errors', () => {
  test('a missing merges.txt is a model error naming the file', async () => {
    const e = await loadError(tokenizerVariant('no-merges', (dir) => rmSync(join(dir, 'merges.txt'))));
    expect(isUserError(e) && e.code === 'model').toBe(true);
    expect((e as Error).message).toMatch(/merges\.txt is missing/);
  });

  test('a vocab.json that is not JSON is a model error naming the file', async () => {
    const e = await loadError(tokenizerVariant('bad-vocab', (dir) => writeFileSync(join(dir, 'vocab.json'), '{"a": 1,')));
    expect(isUserError(e) && e.code === 'model').toBe(true);
    expect((e as Error).message).toMatch(/vocab\.json is not valid JSON/);
  });

  test('a special token missing from the vocabulary is a model error', async () => {
    const e = await loadError(
      tokenizerVariant('bad-pad', (dir) => editJson(join(dir, 'special_tokens_map.json'), (json) => (json.pad_token = '<pad>'))),
    );
    expect(isUserError(e) && e.code === 'model').toBe(true);
    expect((e as Error).message).toMatch(/pad_token "<pad>"/);
  });
});
