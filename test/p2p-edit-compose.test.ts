/** Edits of edits: composing on the parsed structure (p2p/edit/compose.ts) and the bot's use of it. */
import { describe, expect, test } from '@jest/globals';
import { isUserError } from '../src/engine/errors.js';
import type { ImagineParams } from '../src/engine/jobs.js';
import { editParamsFor } from '../src/bot/edits.js';
import type { JobRecord, JobRequest } from '../src/bot/job.js';
import { composeEdits } from '../src/p2p/edit/compose.js';
import { parseEdit } from '../src/p2p/edit/language.js';
import type { EditParams } from '../src/p2p/jobs.js';

const SOURCE = 'a cat on a mat';
const compose = (previous: string, next: string, source = SOURCE): string => composeEdits({ source, edit: previous }, next);

function userError(run: () => unknown): { code: string; message: string } {
  try {
    run();
  } catch (error) {
    if (isUserError(error)) return error;
    throw error;
  }
  throw new Error('expected a UserError');
}

describe('composeEdits', () => {
  test.each([
    ['cat→dog', 'dog→wolf', 'cat→wolf'],
    ['cat→dog', 'mat→rug', 'cat→dog, mat→rug'],
    ['cat→dog, mat→rug', 'rug -> sofa', 'cat→dog, mat→sofa'],
    ['cat→dog', 'a painting of a bird', 'a painting of a bird'],
    ['a dog on a mat', 'dog→wolf', 'a wolf on a mat'],
    ['a Dog on a mat', 'dog→wolf', 'a wolf on a mat'],
  ])('%s then %s = %s', (previous, next, composed) => {
    expect(compose(previous, next)).toBe(composed);
  });

  test('blend and cross clauses follow the words they name (the reported failure)', () => {
    expect(compose('cat→dog; blend: cat dog', 'dog→wolf')).toBe('cat→wolf; blend: cat wolf');
    expect(compose('cat→dog; cross: dog=0.4', 'dog→wolf')).toBe('cat→wolf; cross: wolf=0.4');
    expect(compose('cat→dog; blend: cat dog; cross: dog=0.2-0.6', 'mat→rug; cross: rug=0.3')).toBe('cat→dog, mat→rug; blend: cat dog; cross: dog=0.2-0.6, rug=0.3');
    const composed = parseEdit({ source: SOURCE, edit: compose('cat→dog; blend: cat dog', 'dog→wolf') });
    expect(composed).toMatchObject({ target: 'a wolf on a mat', blend: { words: ['cat', 'wolf'], sourceWords: [1], targetWords: [1] } });
  });

  test('";" between swaps, and swaps onto weighted or multi-word targets', () => {
    expect(compose('cat→dog; mat→rug', 'rug→sofa')).toBe('cat→dog, mat→sofa');
    expect(compose('cat→(dog:2)', 'mat→rug')).toBe('cat→(dog:2), mat→rug');
    expect(compose('cat→(dog:2)', 'dog→wolf')).toBe('cat→wolf'); // the weighted word is gone, and its weight with it
    expect(compose('cat→big dog', 'dog→wolf')).toBe('a big wolf on a mat');
    expect(compose('cat→big dog', 'big dog→small wolf')).toBe('cat→small wolf');
    const weighted = parseEdit({ source: SOURCE, edit: compose('cat→(big dog:3)', 'mat→rug') });
    expect(weighted).toMatchObject({ target: 'a big dog on a rug', weights: [{ text: 'big dog', weight: 3, wordIndices: [1, 2] }] });
  });

  test('weights on the image: earlier weights stay where their words stay', () => {
    expect(compose('cat→dog', '(dog:2)')).toBe('a (dog:2) on a mat');
    expect(compose('a (fluffy:2) dog on a mat', 'mat→rug')).toBe('a (fluffy:2) dog on a rug');
    expect(parseEdit({ source: SOURCE, edit: compose('(cat:3)', 'mat→rug') }).weights).toEqual([{ text: 'cat', weight: 3, wordIndices: [1] }]);
  });

  test('weights and blend words of the earlier request are folded into the text', () => {
    expect(composeEdits({ source: SOURCE, edit: 'cat→dog', blend: ['dog'] }, 'dog→wolf')).toBe('cat→wolf; blend: wolf');
    expect(composeEdits({ source: SOURCE, edit: 'cat→dog', weights: [{ word: 'mat', weight: 2 }] }, 'dog→wolf')).toBe('a wolf on a (mat:2)');
  });

  test('errors name the image the user sees', () => {
    expect(userError(() => compose('cat→dog', 'cat→wolf')).message).toMatch(/^“cat” is not in the prompt “a dog on a mat”/);
    expect(userError(() => compose('a dog on a mat', 'cow→horse')).message).toMatch(/^“cow” is not in the prompt “a dog on a mat”/);
    expect(userError(() => compose('cat→dog', 'dog→cat')).message).toMatch(/gives back the original prompt “a cat on a mat”/);
  });

  test('a composition the language cannot write is refused with a message, not written wrongly', () => {
    // The source holds text that reads as a weight when written as a whole prompt.
    const e = userError(() => composeEdits({ source: 'a (cat:2) on a mat', edit: 'mat→rug' }, '(rug:3)'));
    expect(e.code).toBe('bad_prompt');
    expect(e.message).toMatch(/cannot be combined with the earlier edit/);
  });
});

describe('editParamsFor', () => {
  const source: ImagineParams = { prompt: SOURCE, negativePrompt: '', seed: '5', steps: 4, guidance: 7.5, width: 64, height: 64 };
  const record = (request: JobRequest): JobRecord => ({
    id: 9, request, origin: 'edit', parentId: null, userId: 'u', userName: 'u', guildId: 'g', channelId: 'c', messageId: 'm',
    status: 'done', createdAt: 0, startedAt: 0, finishedAt: 0, error: null, outcome: null, deleted: false,
  });
  const edit = (params: Partial<EditParams>) => record({ kind: 'edit', params: { source, edit: 'cat→dog', ...params } });

  test('from a generation, and from an edit (composed on the original source, settings kept unless given)', () => {
    expect(editParamsFor(record({ kind: 'imagine', params: source }), 'cat→fox', { cross: 0.5 })).toEqual({ source, edit: 'cat→fox', cross: 0.5 });
    expect(editParamsFor(edit({ cross: 0.6, blend: ['cat'] }), 'dog→wolf', { self: 0.2 })).toEqual({ source, edit: 'cat→wolf; blend: cat', cross: 0.6, self: 0.2 });
    expect(editParamsFor(edit({ edit: 'cat→dog; blend: cat dog' }), 'dog→wolf', {})).toEqual({ source, edit: 'cat→wolf; blend: cat wolf' });
  });
});
