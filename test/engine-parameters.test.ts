/** The PNG `parameters` text: what formatParameters writes, parseParameters reads back (vary/upscale --from). */
import { describe, expect, test } from '@jest/globals';
import { formatParameters, parseParameters, type GenerationParameters } from '../src/engine/image.js';

const base: GenerationParameters = {
  prompt: 'a lighthouse at dusk',
  negativePrompt: '',
  steps: 20,
  sampler: 'dpm++2m-karras',
  guidance: -2.5,
  seed: '18446744073709551615',
  width: 256,
  height: 192,
  model: 'tiny-sd15',
};

describe('parseParameters(formatParameters(p)) = p', () => {
  test.each([
    ['plain', base],
    ['negative prompt', { ...base, negativePrompt: 'fog, rain' }],
    ['commas, colons and a line break in the prompt', { ...base, prompt: 'a house, a hill: sunset\nwide shot', negativePrompt: 'Steps: 3, blur' }],
    ['unicode', { ...base, prompt: '夕暮れの灯台 🌅', sampler: 'euler-a' as const }],
    ['extra settings', { ...base, sampler: 'ddim' as const, extra: { 'Denoising strength': '0.35', Edit: 'house→castle, 0.8' } }],
  ])('%s', (_name, params) => {
    expect(parseParameters(formatParameters(params))).toEqual(params);
  });
});

test('text that is not a reprompt parameters block is refused with what is missing', () => {
  expect(() => parseParameters('just a prompt')).toThrow(expect.objectContaining({ code: 'bad_input' }));
  expect(() => parseParameters('a prompt\nSteps: 20, Sampler: Heun, CFG scale: 7, Seed: 1, Size: 64x64')).toThrow(/unknown sampler "Heun"/);
  expect(() => parseParameters('a prompt\nSteps: 20, Sampler: DDIM, CFG scale: 7, Seed: 1')).toThrow(/no "Size"/);
  expect(() => parseParameters('a prompt\nSteps: many, Sampler: DDIM, CFG scale: 7, Seed: 1, Size: 64x64')).toThrow(/not a number/);
});
