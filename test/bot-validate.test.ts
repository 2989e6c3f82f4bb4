/** Slash-option validation: text that no prompt may hold is refused with the option's name, before any work. */
import { describe, expect, test } from '@jest/globals';
import { isUserError } from '../src/engine/errors.js';
import { editSettingsFrom, imagineParamsFrom, requiredEditText } from '../src/bot/validate.js';
import { FakeBackend } from './bot-fakes.js';

const limits = new FakeBackend().limits;
const defaults = { steps: 4, size: 64, guidance: 7.5, count: 1 };

function refusal(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (isUserError(error) && error.code === 'bad_input') return error.message;
    throw error;
  }
  throw new Error('expected a bad_input UserError');
}

describe('unusable characters in slash options', () => {
  test('NUL and other control characters in the prompt or negative prompt', () => {
    expect(refusal(() => imagineParamsFrom({ prompt: 'a red\u0000 fox' }, limits, defaults))).toBe(
      'The prompt contains a control character (U+0000) at character 6: remove it.',
    );
    expect(refusal(() => imagineParamsFrom({ prompt: 'a fox', negative: 'blur\u001B' }, limits, defaults))).toMatch(/^The negative contains a control character \(U\+001B\)/);
    expect(imagineParamsFrom({ prompt: 'a red fox\n\tin snow' }, limits, defaults).prompt).toBe('a red fox\n\tin snow');
  });

  test('private-use and lone surrogate characters in the edit text and blend words', () => {
    expect(refusal(() => requiredEditText({ edit: 'fox→\u{E000}cat' }))).toMatch(/^The edit contains a private-use character \(U\+E000\)/);
    expect(refusal(() => requiredEditText({ edit: 'fox→cat\uD800' }))).toMatch(/^The edit contains a broken character \(lone surrogate\) \(U\+D800\)/);
    expect(refusal(() => editSettingsFrom({ blend: 'fox,\u0000cat' }, limits))).toMatch(/^The blend contains a control character/);
  });
});
