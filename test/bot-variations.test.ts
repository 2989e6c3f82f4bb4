import { describe, expect, test } from '@jest/globals';
import type { ImagineParams } from '../src/engine/jobs.js';
import type { EditParams } from '../src/p2p/jobs.js';
import { parseCustomId, customId } from '../src/bot/custom-id.js';
import { scaledCross } from '../src/bot/edits.js';
import type { JobRecord, JobRequest } from '../src/bot/job.js';
import { guidanceVariation, rerollVariation, strengthVariation } from '../src/bot/variations.js';
import { doneRecord, FakeBackend } from './bot-fakes.js';

const limits = new FakeBackend().limits; // guidance -20..30
const source: ImagineParams = { prompt: 'a cat on a mat', negativePrompt: '', seed: '5', steps: 4, guidance: 7.5, width: 64, height: 64 };
const record = (request: JobRequest): JobRecord => doneRecord({ id: 9, request, userId: 'u', userName: 'u', guildId: 'g', channelId: 'c' });
const imagine = (guidance: number) => record({ kind: 'imagine', params: { ...source, guidance } });
const edit = (params: Partial<EditParams>) => record({ kind: 'edit', params: { source, edit: 'cat→dog', ...params } });

describe('guidance variations', () => {
  test.each([
    [7.5, 4, 11.5, -7.5],
    [5, 2.5, 7.5, -5],
    [-6, -3, -9, 6],
    [25, 12.5, 30, -20], // clamped to the limits
  ])('guidance %d → lower %d, higher %d, negative %d', (g, lower, higher, negative) => {
    const values = (['cfg-lower', 'cfg-higher', 'cfg-negative'] as const).map((a) => {
      const v = guidanceVariation(imagine(g), a, limits)!;
      return v.request.kind === 'imagine' ? v.request.params.guidance : NaN;
    });
    expect(values).toEqual([lower, higher, negative]);
  });

  test('labels say which way a scale goes; negative scales say they push away from the prompt', () => {
    expect(guidanceVariation(imagine(7.5), 'cfg-negative', limits)!.label).toBe('CFG −7.5 (away from prompt)');
    expect(guidanceVariation(imagine(-6), 'cfg-negative', limits)!.label).toBe('CFG 6 (higher)');
    expect(guidanceVariation(imagine(-6), 'cfg-lower', limits)!.label).toBe('CFG −3 (away from prompt)');
  });

  test('a variation that would not change anything does not exist', () => {
    expect(guidanceVariation(imagine(0), 'cfg-lower', limits)).toBeUndefined();
    expect(guidanceVariation(imagine(0), 'cfg-negative', limits)).toBeUndefined();
    expect(guidanceVariation(imagine(30), 'cfg-higher', limits)).toBeUndefined();
  });

  test("an edit's guidance variation changes the edited image's guidance only (the source keeps its own)", () => {
    const v = guidanceVariation(edit({}), 'cfg-higher', limits)!;
    expect(v.request).toEqual({ kind: 'edit', params: { source, edit: 'cat→dog', guidance: 11.5 } });
  });

  test('reroll is for generations only and draws a new seed', () => {
    const v = rerollVariation(imagine(7.5))!;
    expect(v.request.kind === 'imagine' && v.request.params.seed).not.toBe('5');
    expect(rerollVariation(edit({}))).toBeUndefined();
  });
});

describe('stronger / weaker edits', () => {
  test('scale the cross window ×0.75 / ×1.25 from the default 0.8, clamped to (0, 1]', () => {
    expect(scaledCross({ source, edit: 'x' }, 'stronger')).toBe(0.6);
    expect(scaledCross({ source, edit: 'x' }, 'weaker')).toBe(1);
    expect(scaledCross({ source, edit: 'x', cross: 1 }, 'weaker')).toBeUndefined();
    expect(scaledCross({ source, edit: 'x', cross: 0.05 }, 'stronger')).toBeUndefined();
    expect(scaledCross({ source, edit: 'x', cross: [0.2, 0.6] }, 'stronger')).toEqual([0.2, 0.45]);
    expect(scaledCross({ source, edit: 'x', cross: [0.5, 0.6] }, 'stronger')).toEqual([0.5, 0.51]);
  });

  test('keep the same source, seed and edit text', () => {
    const v = strengthVariation(edit({ blend: ['cat'], self: 0.3 }), 'weaker')!;
    expect(v.label).toBe('Weaker edit (cross 1)');
    expect(v.request).toEqual({ kind: 'edit', params: { source, edit: 'cat→dog', blend: ['cat'], self: 0.3, cross: 1 } });
    expect(strengthVariation(imagine(7.5), 'stronger')).toBeUndefined();
  });
});

describe('custom ids', () => {
  test('action:jobId round-trips, stays short, and anything else is refused', () => {
    expect(parseCustomId(customId('edit-stronger', 123456789))).toEqual({ action: 'edit-stronger', jobId: 123456789 });
    expect(customId('cfg-negative', 999_999_999_999_999).length).toBeLessThanOrEqual(100);
    for (const id of ['nope:1', 'cfg-lower', 'cfg-lower:', 'cfg-lower:1:2', 'cfg-lower:-1', 'cfg-lower:1e3']) expect(parseCustomId(id)).toBeUndefined();
  });
});
