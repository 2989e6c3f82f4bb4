/** The edit language: every syntax form and every error. */
import { describe, expect, test } from '@jest/globals';
import { isUserError } from '../src/engine/errors.js';
import { MAX_EDIT_LENGTH, parseEdit, type EditRequest, type ParsedEdit } from '../src/p2p/edit/language.js';

const SOURCE = 'a cat riding a red bicycle';
const parse = (edit: string, extra: Partial<EditRequest> = {}): ParsedEdit => parseEdit({ source: SOURCE, edit, ...extra });

function expectBadPrompt(request: EditRequest, message: RegExp): void {
  let error: unknown;
  try {
    parseEdit(request);
  } catch (e) {
    error = e;
  }
  expect(isUserError(error)).toBe(true);
  expect((error as { code: string }).code).toBe('bad_prompt');
  expect((error as Error).message).toMatch(message);
}
const bad = (edit: string, message: RegExp, extra: Partial<EditRequest> = {}): void => expectBadPrompt({ source: SOURCE, edit, ...extra }, message);

describe('swaps', () => {
  test('cat→dog and cat->dog', () => {
    for (const edit of ['cat→dog', 'cat->dog', '  cat  ->  dog ']) {
      expect(parse(edit)).toEqual({ source: SOURCE, target: 'a dog riding a red bicycle', mode: 'replace', weights: [] });
    }
  });

  test('several swaps, applied together (never to each other’s output)', () => {
    expect(parse('cat→dog, red→blue').target).toBe('a dog riding a blue bicycle');
    expect(parseEdit({ source: 'a cat and a dog', edit: 'cat→dog, dog→cat' }).target).toBe('a dog and a cat');
  });

  test('multi-word phrases: same word count swaps, a different count refines', () => {
    const same = parse('red bicycle→blue truck');
    expect([same.target, same.mode]).toEqual(['a cat riding a blue truck', 'replace']);
    const fewer = parse('red bicycle→truck');
    expect([fewer.target, fewer.mode]).toEqual(['a cat riding a truck', 'refine']);
    const more = parse('cat→fluffy cat');
    expect([more.target, more.mode]).toEqual(['a fluffy cat riding a red bicycle', 'refine']);
  });

  test('words match case-insensitively, every occurrence, keeping punctuation around them', () => {
    expect(parseEdit({ source: 'A Cat, sitting by a cat.', edit: 'cat→dog' }).target).toBe('A dog, sitting by a dog.');
    expect(parseEdit({ source: 'a cat  on\ta mat', edit: 'CAT→dog' })).toMatchObject({ source: 'a cat on a mat', target: 'a dog on a mat' });
  });

  test('weights on the new words', () => {
    const e = parse('cat→(dog:2)');
    expect(e.target).toBe('a dog riding a red bicycle');
    expect(e.weights).toEqual([{ text: 'dog', weight: 2, wordIndices: [1] }]);
    const phrase = parse('red bicycle→(blue truck:-1.5)');
    expect(phrase.weights).toEqual([{ text: 'blue truck', weight: -1.5, wordIndices: [4, 5] }]);
    const both = parse('cat→(big:3) dog');
    expect([both.target, both.mode]).toEqual(['a big dog riding a red bicycle', 'refine']);
    expect(both.weights).toEqual([{ text: 'big', weight: 3, wordIndices: [1] }]);
  });
});

describe('full prompts and weights', () => {
  test('a full new prompt: same word count → replace, otherwise refine', () => {
    expect(parse('a dog riding a red bicycle').mode).toBe('replace');
    expect(parse('a fluffy cat riding a red bicycle in the rain').mode).toBe('refine');
  });

  test('weights anywhere in the target, any number, negative too', () => {
    const e = parse('a (fluffy:2) cat riding a (red:-1) (bicycle:.5)');
    expect(e).toMatchObject({ target: 'a fluffy cat riding a red bicycle', mode: 'refine' });
    expect(e.weights).toEqual([
      { text: 'fluffy', weight: 2, wordIndices: [1] },
      { text: 'red', weight: -1, wordIndices: [5] },
      { text: 'bicycle', weight: 0.5, wordIndices: [6] },
    ]);
  });

  test('the same prompt with weights re-weights; weights alone re-weight the source words', () => {
    const same = parse('a cat riding a (red:3) bicycle');
    expect(same).toMatchObject({ target: SOURCE, mode: 'reweight', weights: [{ text: 'red', weight: 3, wordIndices: [4] }] });
    const only = parse('(cat:4) (red bicycle:-1)');
    expect(only).toMatchObject({ target: SOURCE, mode: 'reweight' });
    expect(only.weights).toEqual([{ text: 'cat', weight: 4 }, { text: 'red bicycle', weight: -1 }]);
  });

  test('the weights field, alone or with an edit', () => {
    expect(parse('', { weights: [{ word: 'cat', weight: 4 }] })).toMatchObject({ target: SOURCE, mode: 'reweight', weights: [{ text: 'cat', weight: 4 }] });
    expect(parse('cat→dog', { weights: [{ word: 'dog', weight: 2 }] }).weights).toEqual([{ text: 'dog', weight: 2 }]);
  });

  test('parentheses without a weight are literal text', () => {
    expect(parse('a cat (tabby) riding a red bicycle')).toMatchObject({ target: 'a cat (tabby) riding a red bicycle', mode: 'refine', weights: [] });
  });
});

describe('clauses', () => {
  test('blend: words found in the source and/or the target', () => {
    expect(parse('cat→dog; blend: cat dog').blend).toEqual({ words: ['cat', 'dog'], sourceWords: [1], targetWords: [1] });
    expect(parse('cat→dog; blend: bicycle').blend).toEqual({ words: ['bicycle'], sourceWords: [5], targetWords: [5] });
    expect(parse('cat→dog', { blend: ['cat', 'dog'] }).blend).toEqual({ words: ['cat', 'dog'], sourceWords: [1], targetWords: [1] });
  });

  test('cross: per-word windows of target words', () => {
    expect(parse('cat→dog; cross: dog=0.4, bicycle=0.2-0.6').perWordCross).toEqual([
      { text: 'dog', wordIndices: [1], window: 0.4 },
      { text: 'bicycle', wordIndices: [5], window: [0.2, 0.6] },
    ]);
    expect(parse('cat→dog', { perWordCross: { dog: [0, 0.3] } }).perWordCross).toEqual([{ text: 'dog', wordIndices: [1], window: [0, 0.3] }]);
  });

  test('clauses combine with a full prompt; other ";" segments stay in the prompt', () => {
    const e = parse('a dog riding a red bicycle; blend: cat dog; cross: dog=.5');
    expect(e).toMatchObject({ target: 'a dog riding a red bicycle', mode: 'replace', blend: { sourceWords: [1], targetWords: [1] } });
    expect(parse('a cat; riding a red bicycle').target).toBe('a cat; riding a red bicycle');
  });
});

describe('errors', () => {
  test('a word that is not in the prompt is named, with the prompt', () => {
    bad('horse→dog', /“horse” is not in the prompt “a cat riding a red bicycle”/);
    bad('', /“horse” is not in the edited prompt/, { weights: [{ word: 'horse', weight: 2 }] });
    bad('(horse:2)', /“horse” is not in the prompt/);
  });

  test('unbalanced brackets', () => {
    bad('a (fluffy:2 cat riding a red bicycle', /Unbalanced brackets.*never closed/);
    bad('a fluffy:2) cat riding a red bicycle', /Unbalanced brackets.*no matching/);
    bad('cat→(dog:2', /Unbalanced/);
  });

  test('weights: out of range, not a number, no word, nested, on the old side', () => {
    bad('cat→(dog:11)', /between -10 and 10/);
    bad('a (fluffy:-12) cat', /between -10 and 10/);
    bad('', /between -10 and 10/, { weights: [{ word: 'cat', weight: 100 }] });
    bad('cat→(dog:much)', /not a number/);
    bad('cat→(:2)', /names no word/);
    bad('a ((fluffy:2) cat:3) riding', /cannot be nested/);
    bad('(cat:2)→dog', /after the arrow/);
  });

  test('empty edits and edits that change nothing', () => {
    bad('', /empty/);
    bad('   ', /empty/);
    bad('; blend: cat', /empty/);
    bad('cat→cat', /unchanged/);
    bad('Cat→cat', /unchanged/);
    bad(SOURCE, /unchanged/);
    expectBadPrompt({ source: '  ', edit: 'cat→dog' }, /source prompt is empty/);
  });

  test('malformed swaps', () => {
    bad('cat→', /both sides/);
    bad('→dog', /both sides/);
    bad('cat→dog→fox', /more than one arrow/);
    bad('cat→dog, wearing a hat', /has no arrow/);
    bad('cat→dog, cat→fox', /same word/);
  });

  test('bad clauses', () => {
    bad('cat→dog; blend:', /needs the words/);
    bad('cat→dog; blend: horse', /“horse” is in neither/);
    bad('cat→dog; cross:', /needs word=window/);
    bad('cat→dog; cross: dog', /not a cross window/);
    bad('cat→dog; cross: dog=1.5', /not valid/);
    bad('cat→dog; cross: cat=0.5', /not in the edited prompt/);
  });
});

describe('inputs that used to crash or be taken oddly (issue 8)', () => {
  test('the old private marker characters are refused with a message, never a TypeError', () => {
    bad('cat→\u{E000}dog', /edit contains a private-use character \(U\+E000\) at character 5/);
    bad('\u{E000}(dog:2)', /private-use character \(U\+E000\)/);
    bad('\u{E001}', /private-use character \(U\+E001\)/);
    expectBadPrompt({ source: 'a \u{E000} cat', edit: 'cat→dog' }, /source prompt contains a private-use character/);
  });

  test('control characters never reach the prompt', () => {
    bad('cat→do\u0000g', /edit contains a control character \(U\+0000\) at character 7/);
    bad('a cat\u0007 riding', /control character \(U\+0007\)/);
    bad('cat→dog', /blend word contains a control character/, { blend: ['do\u0000g'] });
    bad('', /weighted word contains a control character/, { weights: [{ word: 'c\u001Bat', weight: 2 }] });
    // Tabs and newlines are whitespace, not control characters to refuse.
    expect(parse('cat→dog,\n\tred→blue').target).toBe('a dog riding a blue bicycle');
  });

  test('two weighted groups in one word are refused, not glued into one word', () => {
    bad('cat→(dog:2)(lion:3)', /“doglion” would get two weights, from “\(dog:2\)” and “\(lion:3\)”: put a space between/);
    expect(parse('cat→(dog:2) (lion:3)')).toMatchObject({ target: 'a dog lion riding a red bicycle', weights: [{ wordIndices: [1] }, { wordIndices: [2] }] });
    expect(parse('cat→(dog:2)s').weights).toEqual([{ text: 'dog', weight: 2, wordIndices: [1] }]);
  });

  test('empty ";" and "," items are separators, not prompt text; ";" separates swaps too', () => {
    expect(parse('cat→dog;;').target).toBe('a dog riding a red bicycle');
    expect(parse('cat→dog,').target).toBe('a dog riding a red bicycle');
    expect(parse('cat→dog; red→blue').target).toBe('a dog riding a blue bicycle');
    expect(parse('a dog riding a red bicycle;; ').target).toBe('a dog riding a red bicycle');
    expect(parse(';cat→dog; ; blend: dog').target).toBe('a dog riding a red bicycle');
  });

  test('literal brackets may hold weighted groups and the other way round; weighted groups never nest', () => {
    expect(parse('a cat (very (fluffy:2)) riding a red bicycle')).toMatchObject({ target: 'a cat (very fluffy) riding a red bicycle', weights: [{ text: 'fluffy', wordIndices: [3] }] });
    expect(parse('a ((tabby) cat:2) riding a red bicycle').weights).toEqual([{ text: '(tabby) cat', weight: 2, wordIndices: [1, 2] }]);
    bad('a (cat:(2)) riding', /not a number/);
    bad('((cat:2):3)', /cannot be nested/);
  });

  test('an edit longer than the limit is refused before any parsing', () => {
    const groups = Array.from({ length: 300 }, (_, i) => `(w${i}:1.5)`).join(' ');
    expect(groups.length).toBeGreaterThan(MAX_EDIT_LENGTH);
    bad(groups, new RegExp(`is ${groups.length} characters long: the limit is ${MAX_EDIT_LENGTH}`));
  });
});
