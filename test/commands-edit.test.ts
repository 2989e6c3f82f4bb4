import { describe, expect, test } from '@jest/globals';
import type { EditParams } from '../src/p2p/jobs.js';
import { alice, bob, interaction, press, slash, testBot, testSettings } from './bot-fakes.js';

const fox = { prompt: 'a red fox on a mat', seed: '7', steps: 2, width: 64, height: 64 };

async function withImage(messageContent = false) {
  const bot = testBot({ messageContent });
  await bot.router.handle(slash('imagine', fox));
  await bot.jobs.idle();
  return bot;
}

const editParams = (bot: Awaited<ReturnType<typeof withImage>>, id: number): EditParams => {
  const request = bot.store.get(id)!.request;
  if (request.kind !== 'edit') throw new Error(`job ${id} is not an edit`);
  return request.params;
};

const fields = (bot: Awaited<ReturnType<typeof withImage>>, id: number) =>
  Object.fromEntries((bot.sink.messageOfJob(id).message.fields ?? []).map((f) => [f.name, f.value]));

describe('/edit', () => {
  test("without image: edits the user's latest image in this channel, with the source's own parameters", async () => {
    const bot = await withImage();
    const ix = slash('edit', { edit: 'fox→cat', cross: 0.6, blend: 'fox, cat' });
    await bot.router.handle(ix);
    expect(ix.calls[0]).toEqual({ op: 'defer', ephemeral: true });
    expect(ix.lastText).toBe('Queued as job #2 (starting now), editing job #1 (a red fox on a mat). The result will appear in this channel.');
    await bot.jobs.idle();
    const source = bot.store.get(1)!.request.params;
    expect(editParams(bot, 2)).toEqual({ source, edit: 'fox→cat', cross: 0.6, blend: ['fox', 'cat'] });
    expect(bot.store.get(2)).toMatchObject({ parentId: 1, origin: 'edit', status: 'done' });
    expect(fields(bot, 2)).toMatchObject({
      Edit: 'fox→cat',
      'Source → target': 'a red fox on a mat → a red cat on a mat',
      Mode: 'replace',
      'Cross / self': '0.6 / 0.4',
      Blend: 'fox, cat',
      Seed: '7',
      Sampler: 'pndm',
    });
    expect(bot.sink.messageOfJob(2).message.content).toContain('edit of #1');
  });

  test('image: accepts a message link, a message id or a job number', async () => {
    const bot = await withImage();
    await bot.router.handle(slash('imagine', { ...fox, prompt: 'a blue bird', seed: '8' }));
    await bot.jobs.idle();
    const firstMessage = bot.store.get(1)!.messageId!;
    for (const image of [`https://discord.com/channels/g1/c1/${firstMessage}`, firstMessage, '#1', '1']) {
      const ix = slash('edit', { edit: 'fox→cat', image });
      await bot.router.handle(ix);
      expect(ix.lastText).toMatch(/^Queued as job/);
    }
    await bot.jobs.idle();
    for (const id of [3, 4, 5, 6]) expect(editParams(bot, id).source.prompt).toBe('a red fox on a mat');
  });

  test('an image still being drawn can be edited right away: the edit queues behind it', async () => {
    const bot = testBot();
    bot.backend.hold();
    await bot.router.handle(slash('imagine', fox));
    const ix = slash('edit', { edit: 'fox→cat' });
    await bot.router.handle(ix);
    expect(ix.lastText).toMatch(/^Queued as job #2 \(position 1 in the queue\)/);
    bot.backend.release();
    await bot.jobs.idle();
    expect(bot.store.get(2)).toMatchObject({ parentId: 1, status: 'done' });
  });

  test('clear errors: no image yet, an unknown reference, a bad window, a word not in the prompt', async () => {
    const empty = testBot();
    const none = slash('edit', { edit: 'fox→cat' });
    await empty.router.handle(none);
    expect(none.lastText).toBe('⚠️ You have no image in this channel yet: make one with /imagine, or give image: a message link.');

    const bot = await withImage();
    const unknown = slash('edit', { edit: 'fox→cat', image: 'https://discord.com/channels/g1/c1/123456789012345678' });
    await bot.router.handle(unknown);
    expect(unknown.lastText).toContain('is not one of my images');
    const window = slash('edit', { edit: 'fox→cat', self: 1.5 });
    await bot.router.handle(window);
    expect(window.lastText).toBe('⚠️ self 1.5 is not allowed: use a fraction of the steps above 0 and at most 1 (e.g. 0.8).');
    const elsewhere = slash('edit', { edit: 'fox→cat' }, { channelId: 'c2' });
    await bot.router.handle(elsewhere);
    expect(elsewhere.lastText).toContain('You have no image in this channel yet');

    // A word that is not in the prompt is answered at once, and no job is queued for it.
    const cow = slash('edit', { edit: 'cow→cat' });
    await bot.router.handle(cow);
    expect(cow.lastText).toMatch(/^⚠️ “cow” is not in the prompt/);
    await bot.jobs.idle();
    expect(() => bot.sink.messageOfJob(2)).toThrow();
  });

  test('stronger/weaker re-edit the same source (stored source attention reused) with a scaled cross window', async () => {
    const bot = await withImage();
    await bot.router.handle(slash('edit', { edit: 'fox→cat' }));
    await bot.jobs.idle();
    const message = bot.sink.messageOfJob(2).message;
    expect(message.rows!.map((r) => r.map((b) => b.label))).toEqual([
      ['CFG 4 (lower)', 'CFG 11.5 (higher)', 'CFG −7.5 (away from prompt)'],
      ['Stronger edit (cross 0.6)', 'Weaker edit (cross 1)'],
      ['Edit…', 'Attention maps', 'Delete'],
      ['Vary (Subtle)', 'Vary (Strong)', 'Upscale ×2'],
    ]);
    expect(fields(bot, 2)['Source attention']).toBe('computed');
    const ref = bot.sink.messageOfJob(2).ref;
    await bot.router.handle(press('edit-stronger:2', ref));
    await bot.router.handle(press('edit-weaker:2', ref));
    await bot.router.handle(press('cfg-negative:2', ref));
    await bot.jobs.idle();
    const source = editParams(bot, 2).source;
    expect(editParams(bot, 3)).toEqual({ source, edit: 'fox→cat', cross: 0.6 });
    expect(editParams(bot, 4)).toEqual({ source, edit: 'fox→cat', cross: 1 });
    expect(editParams(bot, 5)).toEqual({ source, edit: 'fox→cat', guidance: -7.5 });
    for (const id of [3, 4, 5]) expect(fields(bot, id)['Source attention']).toBe('reused from the store');
    // At the bound the button is gone: cross 1 cannot get weaker.
    const weakest = bot.sink.messageOfJob(4).message.rows!.flat().map((b) => b.label);
    expect(weakest).toContain('Stronger edit (cross 0.75)');
    expect(weakest.some((l) => l.startsWith('Weaker'))).toBe(false);
  });

  test('right after a button: /edit edits the image the user sees, not the variation still being drawn, and says which', async () => {
    const bot = await withImage();
    await bot.router.handle(slash('edit', { edit: 'fox→cat' }));
    await bot.jobs.idle();
    bot.backend.hold();
    await bot.router.handle(press('cfg-higher:2', bot.sink.messageOfJob(2).ref)); // job #3, still being drawn
    const now = slash('edit', { edit: 'mat→rug' });
    await bot.router.handle(now);
    expect(now.lastText).toBe('Queued as job #4 (position 1 in the queue), editing job #2 (a red cat on a mat). The result will appear in this channel.');
    bot.backend.release();
    await bot.jobs.idle();
    expect(bot.store.get(4)).toMatchObject({ parentId: 2, status: 'done' });
    expect(editParams(bot, 4).edit).toBe('fox→cat, mat→rug');
    // Once drawn, the variation is on screen: it is the latest image (here job #4 is newer still).
    await bot.router.handle(press('cfg-lower:4', bot.sink.messageOfJob(4).ref)); // job #5
    await bot.jobs.idle();
    const later = slash('edit', { edit: 'rug→sofa' });
    await bot.router.handle(later);
    expect(later.lastText).toMatch(/^Queued as job #6 \(starting now\), editing job #5 \(a red cat on a rug\)\./);
  });

  test('editing an edit composes the edits on the original source', async () => {
    const bot = await withImage();
    await bot.router.handle(slash('edit', { edit: 'fox→cat' }));
    await bot.jobs.idle();
    await bot.router.handle(slash('edit', { edit: 'cat→dog, mat→rug' })); // the latest image is now the edit
    await bot.jobs.idle();
    expect(editParams(bot, 3)).toEqual({ source: editParams(bot, 2).source, edit: 'fox→dog, mat→rug' });
    expect(fields(bot, 3)['Source → target']).toBe('a red fox on a mat → a red dog on a rug');
  });
});

describe('edit dialog', () => {
  test('the Edit button opens the modal as its first answer; the submit queues the edit', async () => {
    const bot = await withImage();
    const ref = bot.sink.messageOfJob(1).ref;
    const open = press('edit:1', ref);
    await bot.router.handle(open);
    expect(open.calls.map((c) => c.op)).toEqual(['showModal']);
    const modal = open.calls[0].modal!;
    expect(modal.customId).toBe('edit-modal:1');
    expect(modal.fields.map((f) => [f.id, f.required])).toEqual([
      ['edit', true],
      ['cross', false],
      ['self', false],
      ['blend', false],
    ]);
    expect(modal.title.length).toBeLessThanOrEqual(45);
    expect(modal.fields.every((f) => f.label.length <= 45)).toBe(true);

    const submit = interaction<'modal'>({ kind: 'modal', customId: 'edit-modal:1', fields: { edit: 'fox -> owl', cross: '0.5', self: '', blend: '' } });
    await bot.router.handle(submit);
    expect(submit.calls[0]).toEqual({ op: 'defer', ephemeral: true });
    await bot.jobs.idle();
    expect(editParams(bot, 2)).toMatchObject({ edit: 'fox -> owl', cross: 0.5 });
    expect(editParams(bot, 2).self).toBeUndefined();

    const bad = interaction<'modal'>({ kind: 'modal', customId: 'edit-modal:1', fields: { edit: 'fox→owl', cross: 'lots', self: '', blend: '' } });
    await bot.router.handle(bad);
    expect(bad.lastText).toBe('⚠️ cross "lots" is not a number.');
  });

  test('the "Edit with prompt" context menu opens the modal for one of my images, and refuses other messages', async () => {
    const bot = await withImage();
    const ref = bot.sink.messageOfJob(1).ref;
    const menu = interaction<'message-menu'>({ kind: 'message-menu', command: 'Edit with prompt', target: ref });
    await bot.router.handle(menu);
    expect(menu.calls.map((c) => c.op)).toEqual(['showModal']);
    expect(menu.calls[0].modal!.customId).toBe('edit-modal:1');

    const other = interaction<'message-menu'>({ kind: 'message-menu', command: 'Edit with prompt', target: { channelId: 'c1', messageId: '5' } });
    await bot.router.handle(other);
    expect(other.calls).toEqual([{ op: 'reply', message: { content: '⚠️ That message is not one of my images and has no picture attached.', ephemeral: true } }]);
  });

  test('an edit result pre-fills its windows in the dialog', async () => {
    const bot = await withImage();
    await bot.router.handle(slash('edit', { edit: 'fox→cat', cross: 0.7, self: 0.3 }));
    await bot.jobs.idle();
    const open = press('edit:2', bot.sink.messageOfJob(2).ref);
    await bot.router.handle(open);
    const values = Object.fromEntries(open.calls[0].modal!.fields.map((f) => [f.id, f.value]));
    expect(values).toMatchObject({ cross: '0.7', self: '0.3' });
  });
});

describe('plain replies (message-content intent)', () => {
  const reply = (content: string, messageId: string, user = alice) =>
    interaction<'reply'>({ kind: 'reply', content, repliedTo: { channelId: 'c1', messageId } }, { user });

  test('a reply "fox→cat" to a bot image edits it when the operator enabled it', async () => {
    const bot = await withImage(true);
    const ix = reply('fox→cat', bot.store.get(1)!.messageId!, bob);
    await bot.router.handle(ix);
    await bot.jobs.idle();
    expect(bot.store.get(2)).toMatchObject({ origin: 'edit', parentId: 1, userId: bob.id, status: 'done' });
    expect(ix.calls.map((c) => c.op)).toEqual(['defer']); // the status message in the channel is the answer
  });

  test('an error (here: the per-user cap) is answered in the channel, as a reply', async () => {
    const bot = testBot({ messageContent: true, settings: testSettings({ queue: { maxLength: 10, userMaxPending: 1 } }) });
    await bot.router.handle(slash('imagine', fox));
    await bot.jobs.idle();
    bot.backend.hold();
    await bot.router.handle(slash('imagine', fox));
    const ix = reply('fox→cat', bot.store.get(1)!.messageId!);
    await bot.router.handle(ix);
    expect(ix.calls.map((c) => c.op)).toEqual(['defer', 'editReply']);
    expect(ix.calls[1].message).toEqual({ content: expect.stringMatching(/^⚠️ You already have 1 job queued or running/), ephemeral: false });
    bot.backend.release();
    await bot.jobs.idle();
  });

  test('ignored when disabled, without an arrow, or when not replying to a bot image', async () => {
    const off = await withImage(false);
    await off.router.handle(reply('fox→cat', off.store.get(1)!.messageId!));
    const on = await withImage(true);
    const chat = reply('nice picture!', on.store.get(1)!.messageId!);
    await on.router.handle(chat);
    await on.router.handle(reply('fox→cat', '999'));
    await Promise.all([off.jobs.idle(), on.jobs.idle()]);
    expect(off.store.get(2)).toBeUndefined();
    expect(on.store.get(2)).toBeUndefined();
    expect(chat.calls).toEqual([]);
  });
});
