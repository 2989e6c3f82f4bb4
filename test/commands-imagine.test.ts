import { describe, expect, test } from '@jest/globals';
import { SlashCommandBuilder } from 'discord.js';
import sharp from 'sharp';
import { UserError } from '../src/engine/errors.js';
import type { ImagineJob } from '../src/engine/jobs.js';
import { customId } from '../src/bot/custom-id.js';
import { Router } from '../src/bot/router.js';
import { alice, bob, eventually, press, slash, testBot, testSettings } from './bot-fakes.js';

const fox = { prompt: 'a red fox', seed: '42', steps: 3, width: 128, height: 192 };

describe('/imagine', () => {
  test('defers first, privately acknowledges, then the channel message becomes the result', async () => {
    const bot = testBot();
    const ix = slash('imagine', fox);
    let backendStartedBeforeDefer: boolean | undefined;
    const defer = ix.defer.bind(ix);
    ix.defer = async (o) => {
      backendStartedBeforeDefer = bot.backend.started.length > 0;
      return defer(o);
    };
    bot.backend.hold(3);
    await bot.router.handle(ix);
    expect(ix.calls[0]).toEqual({ op: 'defer', ephemeral: true });
    expect(backendStartedBeforeDefer).toBe(false);
    // Progress is shown while the job runs.
    await eventually(() => /step 2\/3 · ETA 0 s/.test(bot.sink.messageOfJob(1).message.content), 'progress');
    const running = bot.sink.messageOfJob(1).message;
    expect(running.rows!.flat().map((b) => b.customId)).toEqual(['cancel:1']);
    // The sampler it runs with (the model's own), and the live preview of the step.
    expect(running.fields).toContainEqual({ name: 'Sampler', value: 'pndm', inline: true });
    expect(running.attachments!.map((a) => [a.name, a.description])).toEqual([['job-1-step-2.webp', 'Preview at step 2 of 3']]);
    bot.backend.release();
    expect(ix.calls[1].op).toBe('editReply');
    expect(ix.calls[1].message).toMatchObject({ ephemeral: true });
    expect(ix.lastText).toMatch(/^Queued as job #1 \((starting now|position 1 in the queue)\)/);
    await bot.jobs.idle();

    const started = bot.backend.started[0] as ImagineJob;
    expect(started).toEqual({
      kind: 'imagine',
      params: { prompt: 'a red fox', negativePrompt: '', seed: '42', steps: 3, guidance: 7.5, width: 128, height: 192 },
      returnTrajectory: true, // kept for later edits of the image
    });
    const { message } = bot.sink.messageOfJob(1);
    expect(message.content).toMatch(new RegExp(`^✅ <@${alice.id}> · job #1$`));
    const fields = Object.fromEntries((message.fields ?? []).map((f) => [f.name, f.value]));
    expect(fields).toMatchObject({ Prompt: 'a red fox', Seed: '42', Steps: '3', CFG: '7.5', Sampler: 'pndm', Size: '128×192' });
    expect(message.attachments).toHaveLength(1);
    const meta = await sharp(message.attachments![0].data).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['png', 128, 192]);
    expect(message.rows!.map((r) => r.map((b) => b.label))).toEqual([
      ['CFG 4 (lower)', 'CFG 11.5 (higher)', 'CFG −7.5 (away from prompt)', 'Reroll'],
      ['Edit…', 'Attention maps', 'Delete'],
      ['Vary (Subtle)', 'Vary (Strong)', 'Upscale ×2'],
    ]);
    expect(message.rows!.flat().map((b) => b.customId)).toEqual(
      ['cfg-lower', 'cfg-higher', 'cfg-negative', 'reroll', 'edit', 'attention', 'delete', 'vary-subtle', 'vary-strong', 'upscale'].map((a) => `${a}:1`),
    );
    // The status message was posted once and edited in place (queued → running → progress → result).
    const events = bot.sink.events.filter((e) => e.ref.messageId === bot.store.get(1)!.messageId);
    expect(events[0].op).toBe('post');
    expect(events[0].message!.content).toMatch(/job #1 · (queued|starting)/);
    expect(events.slice(1).every((e) => e.op === 'edit')).toBe(true);
    expect(bot.store.get(1)).toMatchObject({ status: 'done', outcome: { kind: 'imagine', sampler: 'pndm' } });
  });

  test.each([
    [{ prompt: 'x', width: 100 }, 'width 100 is not allowed: use a multiple of 64 from 64 to 512.'],
    [{ prompt: 'x', height: 1024 }, 'height 1024 is not allowed: use a multiple of 64 from 64 to 512.'],
    [{ prompt: 'x', steps: 31 }, 'steps 31 is not allowed: use a whole number from 1 to 30.'],
    [{ prompt: 'x', cfg: 40 }, 'cfg 40 is not allowed: use a number from -20 to 30.'],
    [{ prompt: 'x', seed: '-1' }, 'Seed "-1" is not valid: expected a whole number from 0 to 18446744073709551615.'],
    [{ prompt: 'x', sampler: 'heun' }, 'sampler "heun" is not available'],
    [{ prompt: '   ' }, 'prompt is empty: describe the picture you want.'],
  ])('rejects %j with a clear private message and no job', async (options, message) => {
    const bot = testBot();
    const ix = slash('imagine', options);
    await bot.router.handle(ix);
    expect(ix.calls.map((c) => c.op)).toEqual(['defer', 'editReply']);
    expect(ix.calls[0].ephemeral).toBe(true);
    expect(ix.lastText).toContain(message);
    expect(ix.lastText).not.toMatch(/\n\s+at /); // no stack trace
    expect(bot.store.get(1)).toBeUndefined();
    expect(bot.sink.events).toEqual([]);
  });

  test('operator caps narrow the model limits (MAX_SIZE below the model maximum)', async () => {
    const bot = testBot({ settings: testSettings({ maxSize: 256 }) });
    const ix = slash('imagine', { prompt: 'x', width: 320 });
    await bot.router.handle(ix);
    expect(ix.lastText).toContain('use a multiple of 64 from 64 to 256');
  });

  test('an engine UserError is shown in the channel message; an internal error only as an apology', async () => {
    const bot = testBot();
    bot.backend.failNext(new UserError('bad_prompt', 'The word "qwzx" is unknown.'));
    await bot.router.handle(slash('imagine', fox));
    await bot.jobs.idle();
    expect(bot.sink.messageOfJob(1).message.content).toBe(`⚠️ <@${alice.id}> · job #1 · failed: The word "qwzx" is unknown.`);
    expect(bot.store.get(1)!.error).toEqual({ code: 'bad_prompt', message: 'The word "qwzx" is unknown.' });

    bot.backend.failNext(new TypeError('Cannot read properties of undefined'));
    await bot.router.handle(slash('imagine', fox));
    await bot.jobs.idle();
    const text = bot.sink.messageOfJob(2).message.content;
    expect(text).toContain("failed: something went wrong on the bot's side");
    expect(text).not.toContain('Cannot read');
    expect(bot.store.get(2)).toMatchObject({ status: 'failed', error: { code: 'internal' } });
  });

  test('a channel where the bot cannot post gives the user a private explanation', async () => {
    const bot = testBot();
    bot.sink.failPosts = true;
    const ix = slash('imagine', fox);
    await bot.router.handle(ix);
    await bot.jobs.idle();
    expect(ix.lastText).toContain('I cannot post in this channel');
    expect(bot.store.get(1)!.status).toBe('failed');
    expect(bot.backend.started).toEqual([]);
  });

  test('a result too large for the upload limit is re-encoded smaller, and the message says so', async () => {
    const bot = testBot({ settings: testSettings({ uploadLimitBytes: 60 * 1024 }) });
    await bot.router.handle(slash('imagine', { ...fox, width: 256, height: 256 }));
    await bot.jobs.idle();
    const { message } = bot.sink.messageOfJob(1);
    const [file] = message.attachments!;
    expect(file.data.byteLength).toBeLessThanOrEqual(60 * 1024);
    expect(file.name).toMatch(/^job-1\.(webp|jpg)$/);
    expect(message.content).toMatch(/job-1: (Re-encoded as (WEBP|JPEG)|Downscaled to \d+×\d+ WebP) .*60 KiB upload limit/);
  });
});

describe('buttons under a generation', () => {
  async function generated() {
    const bot = testBot();
    await bot.router.handle(slash('imagine', fox));
    await bot.jobs.idle();
    return { bot, ref: bot.sink.messageOfJob(1).ref };
  }

  test.each([
    ['cfg-lower', 4],
    ['cfg-higher', 11.5],
    ['cfg-negative', -7.5],
  ] as const)('%s makes the same seed with guidance %d', async (action, guidance) => {
    const { bot, ref } = await generated();
    const ix = press(customId(action, 1), ref);
    await bot.router.handle(ix);
    expect(ix.calls[0]).toEqual({ op: 'defer', ephemeral: true });
    await bot.jobs.idle();
    const job = bot.store.get(2)!;
    expect(job).toMatchObject({ parentId: 1, origin: action, status: 'done' });
    expect(job.request).toEqual({ kind: 'imagine', params: { ...(bot.store.get(1)!.request.params as object), guidance } });
    expect(bot.sink.messageOfJob(2).message.content).toContain('variation of #1');
  });

  test('reroll keeps everything but the seed', async () => {
    const { bot, ref } = await generated();
    await bot.router.handle(press('reroll:1', ref));
    await bot.jobs.idle();
    const [first, second] = [bot.store.get(1)!.request, bot.store.get(2)!.request];
    if (first.kind !== 'imagine' || second.kind !== 'imagine') throw new Error('expected generations');
    expect(second.params.seed).not.toBe(first.params.seed);
    expect({ ...second.params, seed: '42' }).toEqual(first.params);
  });

  test('attention maps come as a second image, with only a Delete button', async () => {
    const { bot, ref } = await generated();
    await bot.router.handle(press('attention:1', ref));
    await bot.jobs.idle();
    expect(bot.store.get(2)!.request).toMatchObject({ kind: 'imagine', attentionMap: true });
    const { message } = bot.sink.messageOfJob(2);
    expect(message.attachments!.map((a) => a.name)).toEqual(['job-2.png', 'job-2-attention.png']);
    expect(message.rows!.flat().map((b) => b.label)).toEqual(['Delete']);
    // An attention-map message is not "the user's latest image" for /edit.
    expect(bot.store.latestImage(alice.id, 'c1')!.id).toBe(1);
  });

  test('delete: refused for other users, allowed for the author and for admins', async () => {
    const { bot, ref } = await generated();
    const byBob = press('delete:1', ref, { user: bob });
    await bot.router.handle(byBob);
    expect(byBob.lastText).toBe('⚠️ Only the author of job #1 or an admin can delete it.');
    expect(bot.sink.messages.has(ref.messageId)).toBe(true);

    const byAlice = press('delete:1', ref);
    await bot.router.handle(byAlice);
    expect(byAlice.lastText).toBe('Deleted the image of job #1.');
    expect(bot.sink.messages.has(ref.messageId)).toBe(false);
    expect(bot.store.get(1)!.deleted).toBe(true);

    await bot.router.handle(slash('imagine', fox));
    await bot.jobs.idle();
    const second = bot.sink.messageOfJob(2).ref;
    const byAdmin = press('delete:2', second, { user: bob, isAdmin: true });
    await bot.router.handle(byAdmin);
    expect(bot.sink.messages.has(second.messageId)).toBe(false);
  });

  test('buttons of another server, unknown jobs and unknown actions get a clear answer', async () => {
    const { bot, ref } = await generated();
    const elsewhere = press('cfg-lower:1', ref, { guildId: 'g2' });
    await bot.router.handle(elsewhere);
    expect(elsewhere.lastText).toBe('⚠️ There is no job #1 here.');
    const unknown = press('sparkle:1', ref);
    await bot.router.handle(unknown);
    expect(unknown.lastText).toBe('⚠️ This button is no longer supported.');
    expect(unknown.calls[0].op).toBe('reply');
    expect(unknown.calls[0].message!.ephemeral).toBe(true);
  });
});

describe('router', () => {
  test('a bug in a handler is logged in full and answered with a short apology, without details', async () => {
    const bot = testBot();
    const logged: string[] = [];
    const log = { info() {}, warn() {}, error: (m: string, e?: unknown) => void logged.push(`${m}: ${(e as Error).stack}`) };
    const broken = new Router([{ slash: { data: new SlashCommandBuilder().setName('broken').setDescription('x'), execute: async () => Promise.reject(new TypeError('secret detail')) } }], { ...bot.context, log });
    const ix = slash('broken', {});
    await broken.handle(ix);
    expect(ix.calls).toEqual([{ op: 'reply', message: { content: "⚠️ Something went wrong on the bot's side; it is logged. Please try again.", ephemeral: true } }]);
    expect(logged.join('\n')).toMatch(/\/broken by \d+ failed: TypeError: secret detail\n\s+at /);
  });

  test('two modules claiming the same button action are refused at start', () => {
    const bot = testBot();
    const twice = { buttons: { actions: ['delete' as const], execute: async () => {} } };
    expect(() => new Router([twice, twice], bot.context)).toThrow('two command modules handle delete');
  });
});
