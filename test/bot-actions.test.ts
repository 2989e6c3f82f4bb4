/**
 * One descriptor per button (src/bot/actions.ts): ids stay what buttons already posted in Discord carry, every
 * descriptor has its handler, and rows, headlines and permissions follow from the list.
 */
import { describe, expect, test } from '@jest/globals';
import { modules } from '../commands/index.js';
import { ACTION_SPECS, BUTTON_ACTIONS, JOB_ACTIONS, resultRows, statusRows } from '../src/bot/actions.js';
import { customId, MODAL_ACTION, parseCustomId, PHOTO_MODAL_ACTION } from '../src/bot/custom-id.js';
import type { JobRecord } from '../src/bot/job.js';
import { headline } from '../src/bot/render.js';
import { alice, bob, doneRecord, FakeBackend, press, slash, testBot } from './bot-fakes.js';

/** The ids of the buttons and the dialog as released: old messages in Discord still carry them. */
const RELEASED_IDS = ['cancel', 'cfg-lower', 'cfg-higher', 'cfg-negative', 'reroll', 'edit', 'edit-stronger', 'edit-weaker', 'attention', 'delete', 'edit-modal', 'vary-subtle', 'vary-strong', 'upscale', 'photo-modal'];

const limits = new FakeBackend().limits;
const fox = { prompt: 'a fox', negativePrompt: '', seed: '1', steps: 4, guidance: 7.5, width: 64, height: 64 };
const job = (over: Partial<JobRecord>): JobRecord => doneRecord({ id: 12, request: { kind: 'imagine', params: fox }, ...over });

describe('the action list', () => {
  test('custom ids are backward compatible: every released id still parses, and no id was dropped or renamed', () => {
    for (const id of RELEASED_IDS) expect(parseCustomId(`${id}:42`)).toEqual({ action: id, jobId: 42 });
    expect([...BUTTON_ACTIONS, MODAL_ACTION, PHOTO_MODAL_ACTION].sort()).toEqual([...RELEASED_IDS].sort());
    expect(parseCustomId('zoom-out:1')).toBeUndefined();
    expect(parseCustomId('reroll:x')).toBeUndefined();
  });

  test('every button has exactly one handler among the command modules, and the dialog too', () => {
    const handled = modules.flatMap((m) => m.buttons?.actions ?? []);
    expect([...handled].sort()).toEqual([...BUTTON_ACTIONS].sort());
    expect(modules.filter((m) => m.modal).map((m) => m.modal!.action)).toEqual([MODAL_ACTION, PHOTO_MODAL_ACTION]);
  });

  test('rows are derived from the descriptors: list order within a row, buttons whose job does not apply left out', () => {
    const labels = (rows: ReturnType<typeof resultRows>) => rows.map((r) => r.map((b) => b.label));
    expect(labels(statusRows(job({ status: 'running' }), limits))).toEqual([['Cancel']]);
    expect(labels(resultRows(job({}), limits))).toEqual([
      ['CFG 4 (lower)', 'CFG 11.5 (higher)', 'CFG −7.5 (away from prompt)', 'Reroll'],
      ['Edit…', 'Attention maps', 'Delete'],
      ['Vary (Subtle)', 'Vary (Strong)', 'Upscale ×2'],
    ]);
    expect(labels(resultRows(job({ origin: 'attention', parentId: 3 }), limits))).toEqual([['Delete']]);
    // Guidance at the upper limit: no "higher" button.
    const atLimit = job({ request: { kind: 'imagine', params: { ...fox, guidance: limits.guidance.max } } });
    expect(labels(resultRows(atLimit, limits))[0]).not.toContainEqual(expect.stringMatching(/higher/));
    expect(resultRows(job({}), limits).flat().map((b) => b.customId)).toContain(customId('reroll', 12));
  });

  test('each job-making button names the jobs it makes in their headline', () => {
    for (const origin of JOB_ACTIONS) {
      const spec = ACTION_SPECS.find((s) => s.id === origin)!;
      expect(headline(job({ origin, parentId: 3 }))).toBe(`<@${alice.id}> · job #12 · ${'origin' in spec ? spec.origin : '?'} #3`);
    }
  });
});

describe('who may press', () => {
  test('"author" buttons (delete, cancel) refuse others with one message from the descriptor; "anyone" buttons do not', async () => {
    const bot = testBot();
    await bot.router.handle(slash('imagine', { prompt: 'a fox', steps: 2, width: 64, height: 64 }));
    await bot.jobs.idle();
    const { ref } = bot.sink.messageOfJob(1);
    const denied = press(customId('delete', 1), ref, { user: bob });
    await bot.router.handle(denied);
    expect(denied.lastText).toBe('⚠️ Only the author of job #1 or an admin can delete it.');
    const cancel = press(customId('cancel', 1), ref, { user: bob });
    await bot.router.handle(cancel);
    expect(cancel.lastText).toBe('⚠️ Only the author of job #1 or an admin can cancel it.');
    const reroll = press(customId('reroll', 1), ref, { user: bob });
    await bot.router.handle(reroll);
    expect(reroll.lastText).toMatch(/^Queued as job #2/);
  });
});
