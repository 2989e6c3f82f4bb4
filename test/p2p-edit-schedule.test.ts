/** Cross alpha tables, self windows and self-layer selection (§5, invariants 14–16, the reference's `effective`). */
import { describe, expect, test } from '@jest/globals';
import { UserError } from '../src/engine/errors.js';
import { buildEditPlan } from '../src/p2p/edit/controls.js';
import { parseEdit } from '../src/p2p/edit/language.js';
import {
  alphaRow,
  crossAlphaTable,
  crossRowRange,
  replacedSelfLayers,
  selfCallRange,
  splitCrossSchedule,
  type CrossSchedule,
} from '../src/p2p/edit/schedule.js';
import { referenceCases } from './helpers.js';
import { loadTokenizer, sdAttentionLayers } from './p2p-helpers.js';

const K = 77;

/** Rows of a [(T + 1), K] table where every column of `cols` is 1. */
const rowsOn = (table: Float32Array, cols: readonly number[]): number[] => {
  const out: number[] = [];
  for (let r = 0; r < table.length / K; r++) if (cols.every((c) => table[r * K + c] === 1)) out.push(r);
  return out;
};
const range = (a: number, b: number): number[] => Array.from({ length: b - a }, (_, i) => a + i);
const allCols = range(0, K);

interface P2pCase {
  id: string;
  prompts: string[];
  unet_calls: number;
  cross_attention_kwargs: {
    edit_type: string;
    n_cross_replace: number;
    n_self_replace: number;
    equalizer_words?: string[];
    equalizer_strengths?: number[];
  };
  effective: {
    cross_replace_alpha_shape: number[];
    cross_replace_steps_with_alpha_1: number[];
    'self_replace_step_range_[start,end)': [number, number];
    'self_replace_only_where_query_len_<=': number;
  };
}

describe('reference cases: the effective schedules', () => {
  const { p2p } = referenceCases<{ p2p: { steps: number; height: number; cases: P2pCase[] } }>();

  test.each(p2p.cases.map((c) => [c.id, c] as const))('%s', async (_, c) => {
    const tok = await loadTokenizer();
    const { n_cross_replace: cross, n_self_replace: self, equalizer_words: words = [], equalizer_strengths: strengths = [] } = c.cross_attention_kwargs;
    const weights = words.map((word, i) => ({ word, weight: strengths[i] }));
    const edit = parseEdit({ source: c.prompts[0], edit: c.prompts[1] === c.prompts[0] ? '' : c.prompts[1], weights });
    expect(edit.mode).toBe(c.cross_attention_kwargs.edit_type);
    const plan = buildEditPlan(edit, tok, { steps: p2p.steps, cross, self });
    const alpha = plan.edits[0].alpha;
    expect(alpha.length).toBe(c.effective.cross_replace_alpha_shape[0] * K);
    // all tokens equal: rows are all-ones or all-zeros
    const onRows = rowsOn(alpha, allCols);
    expect(onRows).toEqual(c.effective.cross_replace_steps_with_alpha_1);
    expect(alpha.reduce((s, v) => s + v, 0)).toBe(onRows.length * K);
    expect(plan.selfCalls).toEqual(c.effective['self_replace_step_range_[start,end)']);
    // PNDM's extra call reads the last row, which exists
    expect(alphaRow(alpha, K, c.unet_calls - 1)).toEqual(alpha.subarray((c.unet_calls - 1) * K, c.unet_calls * K));
  });

  test('the reference self threshold (query ≤ 256) at 256² is down 1–2, mid, up 1–2: 11 self layers', () => {
    const layers = sdAttentionLayers();
    const threshold = p2p.cases[0].effective['self_replace_only_where_query_len_<='];
    const replaced = replacedSelfLayers(layers, { maxQuery: threshold }, 32, 32);
    expect(replaced.filter(Boolean).length).toBe(11);
    expect(layers.filter((_, i) => replaced[i]).every((l) => l.kind === 'self' && l.level >= 1)).toBe(true);
  });
});

describe('cross alpha table', () => {
  test('T = 50, cross 0.8: rows 0–39 ones, 40–50 zeros, for every edit (invariant 14)', async () => {
    const tok = await loadTokenizer();
    const source = 'a squirrel eating a burger';
    const edits = [parseEdit({ source, edit: 'squirrel→lion' }), parseEdit({ source, edit: 'squirrel→cat' })];
    const plan = buildEditPlan(edits, tok, { steps: 50, cross: 0.8 });
    expect(plan.edits.length).toBe(2);
    for (const { alpha } of plan.edits) {
      expect(alpha.length).toBe(51 * K);
      expect(rowsOn(alpha, allCols)).toEqual(range(0, 40));
      expect(alpha.subarray(40 * K).every((v) => v === 0)).toBe(true);
    }
  });

  test('the documented int(f·51) ranges', () => {
    const table: [number, number][] = [[0.1, 5], [0.2, 10], [0.4, 20], [0.5, 25], [0.6, 30], [0.7, 35], [0.8, 40], [1, 51]];
    for (const [f, end] of table) expect(crossRowRange(f, 50)).toEqual([0, end]);
    expect(crossRowRange([0.2, 0.6], 50)).toEqual([10, 30]);
  });

  test('per-word windows: {"default_": 1, "lion": .4} (invariant 15), without mutating the input', async () => {
    const tok = await loadTokenizer();
    const schedule: CrossSchedule = Object.freeze({ default_: 1, lion: 0.4 });
    const edit = parseEdit({ source: 'a squirrel eating a burger', edit: 'squirrel→lion' });
    const { alpha } = buildEditPlan(edit, tok, { steps: 50, cross: schedule }).edits[0];
    expect(rowsOn(alpha, [2])).toEqual(range(0, 20));
    expect(alpha.subarray(20 * K).filter((_, i) => i % K === 2).every((v) => v === 0)).toBe(true);
    expect(rowsOn(alpha, allCols.filter((c) => c !== 2))).toEqual(range(0, 51));
    expect(schedule).toEqual({ default_: 1, lion: 0.4 });
  });

  test('a per-word dict without default_ replaces every other token over the whole run', () => {
    const input = { lion: 0.4 };
    expect(splitCrossSchedule(input)).toEqual({ defaultWindow: [0, 1], words: [['lion', 0.4]] });
    expect(input).toEqual({ lion: 0.4 });
    expect(splitCrossSchedule(0.8)).toEqual({ defaultWindow: 0.8, words: [] });
    expect(splitCrossSchedule([0.1, 0.5])).toEqual({ defaultWindow: [0.1, 0.5], words: [] });
  });

  test('token windows overwrite the default; a (start, end) window', () => {
    const table = crossAlphaTable(10, K, [0.2, 0.6], [{ tokens: [3], window: 1 }]);
    expect(rowsOn(table, [0, 1, 76])).toEqual(range(2, 6)); // int(.2·11) = 2, int(.6·11) = 6
    expect(rowsOn(table, [3])).toEqual(range(0, 11));
  });

  test('calls past the table read its last row', () => {
    const table = crossAlphaTable(4, K, [0, 1]);
    expect(alphaRow(table, K, 9)).toEqual(table.subarray(4 * K));
  });

  test('windows outside [0, 1] or reversed are UserErrors', () => {
    expect(() => crossRowRange(1.5, 20)).toThrow(UserError);
    expect(() => crossRowRange([0.6, 0.2], 20)).toThrow(/not valid/);
    expect(() => selfCallRange(-0.1, 20)).toThrow(UserError);
  });
});

describe('self-attention window and layers', () => {
  test('self 0.4 at T = 50: calls 0–19; 6 layers (default) or 11 (query ≤ 32²) at 512² (invariant 16)', () => {
    expect(selfCallRange(0.4, 50)).toEqual([0, 20]);
    expect(selfCallRange(1, 50)).toEqual([0, 50]); // multiplier T, not T + 1
    const layers = sdAttentionLayers();
    expect(replacedSelfLayers(layers, { minLevel: 2 }, 64, 64).filter(Boolean).length).toBe(6);
    expect(replacedSelfLayers(layers, { maxQuery: 16 ** 2 }, 64, 64).filter(Boolean).length).toBe(6);
    expect(replacedSelfLayers(layers, { maxQuery: 32 ** 2 }, 64, 64).filter(Boolean).length).toBe(11);
    // the level rule keeps the same layers at 256²; the absolute rule does not
    expect(replacedSelfLayers(layers, { minLevel: 2 }, 32, 32)).toEqual(replacedSelfLayers(layers, { minLevel: 2 }, 64, 64));
  });
});
