/**
 * The grid (`/imagine count:2–4`) through the interaction port: one job drawn as one batch, its candidates stored
 * as finished /imagine jobs of their own (seed, seed+1, …), one picture with U / V / Edit buttons per candidate.
 */
import { describe, expect, test } from '@jest/globals';
import sharp from 'sharp';
import { loadConfig } from '../src/bot/config.js';
import type { JobRecord } from '../src/bot/job.js';
import { eventually, press, RecordingSink, slash, testBot, testSettings } from './bot-fakes.js';
import { candidateRequest, gridLayout } from '../src/bot/grid.js';

const fox = { prompt: 'a red fox', seed: '42', steps: 3, width: 128, height: 192 };

async function withGrid(count: number, settings = testSettings()) {
  const bot = testBot({ settings });
  const ix = slash('imagine', { ...fox, count });
  await bot.router.handle(ix);
  await bot.jobs.idle();
  return Object.assign(bot, { ix });
}

const seedOf = (job: JobRecord | undefined): string | undefined => (job && job.request.kind !== 'edit' ? job.request.params.seed : undefined);

describe('/imagine count', () => {
  test('count 4: one batch job, four finished /imagine jobs with seeds 42…45, one 2×2 picture with U / V / Edit rows', async () => {
    const bot = await withGrid(4);
    expect(bot.ix.lastText).toMatch(/^Queued as job #1/);
    expect(bot.backend.started).toEqual([{ kind: 'imagine-grid', count: 4, params: { prompt: 'a red fox', negativePrompt: '', seed: '42', steps: 3, guidance: 7.5, width: 128, height: 192 } }]);
    expect(bot.store.get(1)).toMatchObject({ status: 'done', outcome: { kind: 'imagine-grid', candidates: [2, 3, 4, 5] } });
    for (const [k, id] of [2, 3, 4, 5].entries()) {
      const candidate = bot.store.get(id)!;
      expect(candidate).toMatchObject({ origin: 'grid', parentId: 1, status: 'done', outcome: { kind: 'imagine', sampler: 'pndm' } });
      // Each is the single /imagine that draws the same picture: seed + k, everything else the grid's.
      expect(candidate.request).toEqual({ kind: 'imagine', params: { prompt: 'a red fox', negativePrompt: '', seed: String(42 + k), steps: 3, guidance: 7.5, width: 128, height: 192 } });
    }

    const { message } = bot.sink.messageOfJob(1);
    expect(message.content.split('\n')[0]).toMatch(/· job #1 · grid of 4$/);
    expect(message.content).toContain('Candidates 1: #2 (seed 42) · 2: #3 (seed 43) · 3: #4 (seed 44) · 4: #5 (seed 45)');
    expect(message.rows!.map((r) => r.map((b) => b.label))).toEqual([
      ['U1', 'U2', 'U3', 'U4'],
      ['V1', 'V2', 'V3', 'V4'],
      ['Edit 1', 'Edit 2', 'Edit 3', 'Edit 4'],
      ['Reroll', 'Delete'],
    ]);
    expect(message.rows!.map((r) => r.map((b) => b.customId))).toEqual([
      ['upscale:2', 'upscale:3', 'upscale:4', 'upscale:5'],
      ['vary-strong:2', 'vary-strong:3', 'vary-strong:4', 'vary-strong:5'],
      ['edit:2', 'edit:3', 'edit:4', 'edit:5'],
      ['reroll:1', 'delete:1'],
    ]);
    // Within Discord's 5 rows of 5.
    expect(message.rows!.length).toBeLessThanOrEqual(5);
    expect(Math.max(...message.rows!.map((r) => r.length))).toBeLessThanOrEqual(5);

    // One picture; candidate k sits at column k % 2, row ⌊k/2⌋, pixel for pixel.
    expect(message.attachments).toHaveLength(1);
    const grid = sharp(message.attachments![0].data);
    expect(await grid.metadata()).toMatchObject({ format: 'png', width: 256, height: 384 });
    for (const [k, id] of [2, 3, 4, 5].entries()) {
      const cell = await sharp(message.attachments![0].data).extract({ left: (k % 2) * 128, top: Math.floor(k / 2) * 192, width: 128, height: 192 }).removeAlpha().raw().toBuffer();
      const own = await sharp(bot.store.image(id)!).removeAlpha().raw().toBuffer();
      expect(cell.equals(own)).toBe(true);
    }
  });

  test("candidate k's picture is the single /imagine with seed 42+k", async () => {
    const bot = await withGrid(3);
    const single = testBot();
    await single.router.handle(slash('imagine', { ...fox, seed: '44' }));
    await single.jobs.idle();
    expect(Buffer.from(bot.store.image(4)!).equals(Buffer.from(single.sink.messageOfJob(1).message.attachments![0].data))).toBe(true);
  });

  test('layouts: 2 side by side, 3 and 4 in two rows of two', async () => {
    expect([2, 3, 4].map(gridLayout)).toEqual([{ columns: 2, rows: 1 }, { columns: 2, rows: 2 }, { columns: 2, rows: 2 }]);
    const bot = await withGrid(2);
    expect(await sharp(bot.sink.messageOfJob(1).message.attachments![0].data).metadata()).toMatchObject({ width: 256, height: 192 });
    expect(bot.sink.messageOfJob(1).message.rows!.map((r) => r.map((b) => b.label))).toEqual([['U1', 'U2'], ['V1', 'V2'], ['Edit 1', 'Edit 2'], ['Reroll', 'Delete']]);
  });

  test('U2 upscales candidate 2, V1 varies candidate 1: jobs of their own, from that candidate\'s PNG', async () => {
    const bot = await withGrid(4);
    const ref = bot.sink.messageOfJob(1).ref;
    await bot.router.handle(press('upscale:3', ref));
    await bot.router.handle(press('vary-strong:2', ref));
    await bot.jobs.idle();
    expect(bot.store.get(6)).toMatchObject({ origin: 'upscale', parentId: 3, request: { kind: 'img2img', sourceJobId: 3, strength: 0.35, params: { seed: '43', width: 256, height: 384 } } });
    expect(bot.store.get(7)).toMatchObject({ origin: 'vary-strong', parentId: 2, request: { kind: 'img2img', sourceJobId: 2, strength: 0.7 } });
    expect(Buffer.from(bot.backend.img2imgInputs[0]).equals(Buffer.from(bot.store.image(3)!))).toBe(true);
    expect(Buffer.from(bot.backend.img2imgInputs[1]).equals(Buffer.from(bot.store.image(2)!))).toBe(true);
    expect(bot.sink.messageOfJob(6).message.content).toMatch(/job #6 · upscale of #3$/);
  });

  test('Edit 3 opens the edit dialog of candidate 3; /edit without image asks which candidate; image:#4 edits it', async () => {
    const bot = await withGrid(4);
    const open = press('edit:4', bot.sink.messageOfJob(1).ref);
    await bot.router.handle(open);
    expect(open.calls.map((c) => c.op)).toEqual(['showModal']);
    expect(open.calls[0].modal!.customId).toBe('edit-modal:4');

    const unsure = slash('edit', { edit: 'fox→cat' });
    await bot.router.handle(unsure);
    expect(unsure.lastText).toContain('Job #1 is a grid: pick one of its pictures with the Edit 1–4 buttons under it, or name it (image: #2 to #5).');
    expect(bot.store.get(6)).toBeUndefined();

    await bot.router.handle(slash('edit', { edit: 'fox→cat', image: '#4' }));
    await bot.jobs.idle();
    const edit = bot.store.get(6)!;
    expect(edit).toMatchObject({ origin: 'edit', parentId: 4, status: 'done' });
    expect(edit.request.kind === 'edit' && edit.request.params.source.seed).toBe('44');
  });

  test('Reroll under a grid draws a new grid of as many candidates with a new seed', async () => {
    const bot = await withGrid(3);
    await bot.router.handle(press('reroll:1', bot.sink.messageOfJob(1).ref));
    await bot.jobs.idle();
    const reroll = bot.store.get(5)!;
    expect(reroll).toMatchObject({ origin: 'reroll', parentId: 1, request: { kind: 'imagine-grid', count: 3 }, outcome: { candidates: [6, 7, 8] } });
    expect(seedOf(reroll)).not.toBe('42');
    expect(seedOf(bot.store.get(7))).toBe((BigInt(seedOf(reroll)!) + 1n).toString());
  });

  test('a grid run again after a restart keeps the candidates it had stored before the restart', async () => {
    const settings = testSettings();
    const sink = new RecordingSink();
    const before = testBot({ settings, sink });
    before.backend.hold(2);
    await before.router.handle(slash('imagine', { ...fox, count: 2 }));
    await eventually(() => /step 1\/3/.test(sink.messageOfJob(1).message.content), 'the grid to be running');
    // The state of a process that stopped after storing the candidates, before the grid was marked done.
    const grid = before.store.get(1)!;
    if (grid.request.kind !== 'imagine-grid') throw new Error('not a grid');
    for (const k of [0, 1]) {
      const where = { userId: grid.userId, userName: grid.userName, guildId: grid.guildId, channelId: grid.channelId };
      before.store.createDone({ ...where, request: candidateRequest(grid.request, k), origin: 'grid', parentId: 1 }, { kind: 'imagine', sampler: 'pndm', truncated: [], timings: { totalMs: 1, textEncoderMs: 0, unetMs: 0, unetCalls: 0, vaeMs: 0, hostMsPerStep: 0 } }, new Uint8Array([k]));
    }
    await before.close();

    const after = testBot({ settings, sink });
    expect(await after.jobs.resumeUnfinished()).toEqual({ resumed: 1, failed: 0 });
    await after.jobs.idle();
    expect(after.store.get(1)).toMatchObject({ status: 'done', outcome: { candidates: [2, 3] } });
    expect(after.store.get(4)).toBeUndefined();
    expect(sink.messageOfJob(1).message.rows![0].map((b) => b.customId)).toEqual(['upscale:2', 'upscale:3']);
    // Their kept images are this run's pictures.
    expect(after.store.image(3)!.length).toBeGreaterThan(1);
  });

  test('count 1 is a plain /imagine; DEFAULT_COUNT applies when count is not given', async () => {
    const one = await withGrid(1);
    expect(one.backend.started[0].kind).toBe('imagine');
    const settings = testSettings();
    const bot = testBot({ settings: { ...settings, defaults: { ...settings.defaults, count: 2 } } });
    await bot.router.handle(slash('imagine', fox));
    await bot.jobs.idle();
    expect(bot.store.get(1)!.request).toMatchObject({ kind: 'imagine-grid', count: 2 });
  });

  test.each([
    [5, 'count 5 is not allowed: use a whole number from 1 to 4.'],
    [0, 'count 0 is not allowed: use a whole number from 1 to 4.'],
  ])('count %d is refused before anything is queued', async (count, text) => {
    const bot = await withGrid(count);
    expect(bot.ix.lastText).toContain(text);
    expect(bot.store.get(1)).toBeUndefined();
    expect(bot.backend.started).toEqual([]);
  });

  test("a count above the user's share of the queue (USER_MAX_PENDING) is answered clearly", async () => {
    const bot = await withGrid(4, testSettings({ queue: { maxLength: 20, userMaxPending: 3 } }));
    expect(bot.ix.lastText).toContain('count 4 is more than your share of the queue (3 jobs at once): ask for count 3 or fewer.');
    expect(bot.store.get(1)).toBeUndefined();
  });
});

describe('DEFAULT_COUNT', () => {
  const env = { DISCORD_TOKEN: 'MTIzNDU2Nzg5MDEyMzQ1Njc4.GaBcDe.abcdefghijklmnopqrstuvwxyz0123456789', DISCORD_APP_ID: '123456789012345678', MODEL_DIR: 'models/sd15' };
  const problems = (extra: Record<string, string>): string => {
    try {
      loadConfig({ ...env, ...extra }, 'bot');
      return '';
    } catch (e) {
      return (e as Error).message;
    }
  };

  test('defaults to 1; 1–4 accepted; errors name the variable', () => {
    expect(loadConfig(env, 'bot').defaults.count).toBe(1);
    expect(loadConfig({ ...env, DEFAULT_COUNT: '3' }, 'bot').defaults.count).toBe(3);
    expect(problems({ DEFAULT_COUNT: '5' })).toContain('DEFAULT_COUNT');
    expect(problems({ DEFAULT_COUNT: 'four' })).toContain('DEFAULT_COUNT');
    expect(problems({ DEFAULT_COUNT: '4', USER_MAX_PENDING: '2' })).toContain('DEFAULT_COUNT must not exceed USER_MAX_PENDING (2)');
  });
});
