/**
 * Edits of a user's own picture through the interaction port, on the fake backend: `/edit photo: description:`
 * downloads the attachment from the URL Discord gives (here a loopback HTTP server), checks it before anything is
 * queued, keeps the preprocessed picture, and runs invert → edit; re-edits (buttons, after a restart) replay the
 * kept inversion. Bad files and descriptions get a message each and queue nothing.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import { readFileSync } from 'node:fs';
import type { IncomingAttachment } from '../src/bot/port/index.js';
import { sourceKey } from '../src/bot/trajectories.js';
import type { EditJob } from '../src/p2p/jobs.js';
import { FakeBackend, interaction, press, RecordingSink, slash, testBot, testSettings } from './bot-fakes.js';
import { referencePath } from './helpers.js';
import { pngHeaderOnly } from './photo-helpers.js';

/** name → [content type, bytes]; every request is recorded. */
const files = new Map<string, [string, Uint8Array]>();
const requests: string[] = [];
let server: Server;
let base: string;

beforeAll(async () => {
  files.set('house.png', ['image/png', readFileSync(referencePath('inversion/photo_256x192.png'))]);
  files.set('notes.txt', ['text/plain', Buffer.from('not a picture\n')]);
  files.set('fake.png', ['image/png', Buffer.from('not a picture either, whatever the type says\n')]);
  files.set('huge.png', ['image/png', pngHeaderOnly(20000, 20000)]);
  files.set('dot.png', ['image/png', await sharp({ create: { width: 1, height: 1, channels: 3, background: 'red' } }).png().toBuffer()]);
  files.set('anim.gif', ['image/gif', await animatedGif()]);
  server = createServer((req, res) => {
    requests.push(req.url ?? '');
    const file = files.get((req.url ?? '').slice(1));
    if (!file) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': file[0] }).end(file[1]);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** A two-frame GIF. */
async function animatedGif(): Promise<Uint8Array> {
  const frame = (background: string) => sharp({ create: { width: 64, height: 64, channels: 3, background } }).png().toBuffer();
  return sharp([await frame('red'), await frame('blue')], { join: { animated: true } }).gif().toBuffer();
}

const attachment = (name: string, overrides: Partial<IncomingAttachment> = {}): IncomingAttachment => ({
  name,
  url: `${base}/${name}`,
  contentType: files.get(name)?.[0],
  size: files.get(name)?.[1].byteLength ?? 1000,
  ...overrides,
});

const photoEdit = (file: IncomingAttachment, options: Record<string, string | number>) => {
  const ix = slash('edit', options);
  return Object.assign(ix, { attachments: { photo: file } });
};

const HOUSE = 'a drawing of a house under the sun';

describe('/edit photo:', () => {
  test('downloads, keeps the picture, inverts it then edits it; a Stronger re-edit replays the kept inversion', async () => {
    const bot = testBot();
    const ix = photoEdit(attachment('house.png'), { edit: 'house→castle', description: HOUSE });
    await bot.router.handle(ix);
    expect(ix.calls[0]).toEqual({ op: 'defer', ephemeral: true });
    expect(ix.lastText).toBe('Queued as job #1 (starting now), editing your picture (256×192). The result will appear in this channel.');
    await bot.jobs.idle();

    const [invert, edit] = bot.backend.started as [{ kind: string; prompt: string; width: number; height: number }, EditJob];
    expect(invert).toMatchObject({ kind: 'invert', prompt: HOUSE, steps: 4, width: 256, height: 192 });
    expect(edit.kind).toBe('edit');
    expect(edit.params.source).toMatchObject({ prompt: HOUSE, sampler: 'ddim', width: 256, height: 192, steps: 4 });
    expect(edit.sourceTrajectory?.shape).toEqual([5, 4, 24, 32]);
    const job = bot.store.get(1)!;
    expect(job).toMatchObject({ origin: 'photo-edit', parentId: null, status: 'done' });
    const shown = bot.sink.messageOfJob(1).message;
    expect(shown.attachments?.length).toBeGreaterThan(0);
    const fields = Object.fromEntries((shown.fields ?? []).map((f) => [f.name, f.value]));
    expect(fields).toMatchObject({ 'Source → target': `${HOUSE} → a drawing of a castle under the sun`, Source: 'your picture', Sampler: 'ddim', Size: '256×192' });
    expect(fields).not.toHaveProperty('Seed');
    // The picture and its inversion are kept: the stored request is plain JSON naming the picture.
    const params = edit.params;
    expect(job.request).toEqual({ kind: 'edit', params });
    const kept = bot.store.getPhoto(params.photo!)!;
    expect(kept).toMatchObject({ width: 256, height: 192 });
    expect(bot.store.getTrajectory(sourceKey('fake', params))?.shape).toEqual([5, 4, 24, 32]);

    await bot.router.handle(press('edit-stronger:1', bot.sink.messageOfJob(1).ref));
    await bot.jobs.idle();
    expect(bot.backend.started.map((j) => j.kind)).toEqual(['invert', 'edit', 'edit']);
    const stronger = bot.backend.started[2] as EditJob;
    expect(stronger.params.photo).toBe(params.photo);
    expect(stronger.sourceTrajectory?.shape).toEqual([5, 4, 24, 32]);
    expect(bot.store.get(2)).toMatchObject({ origin: 'edit-stronger', parentId: 1, status: 'done' });
  });

  test('after a restart (same database) a re-edit of the picture needs no inversion', async () => {
    const settings = testSettings();
    const sink = new RecordingSink();
    const first = testBot({ settings, sink });
    await first.router.handle(photoEdit(attachment('house.png'), { edit: 'sun→moon', description: HOUSE }));
    await first.jobs.idle();
    await first.close();

    const second = testBot({ settings, sink, backend: new FakeBackend() });
    const ix = slash('edit', { edit: 'house→barn', image: '#1' });
    await second.router.handle(ix);
    await second.jobs.idle();
    expect(second.backend.started.map((j) => j.kind)).toEqual(['edit']);
    const edit = second.backend.started[0] as EditJob;
    expect(edit.params.photo).toBeDefined();
    expect(edit.sourceTrajectory).toBeDefined();
    expect(second.store.get(2)).toMatchObject({ status: 'done' });
  });

  test('with the inversion evicted, a re-edit inverts the kept picture again', async () => {
    const bot = testBot({ settings: testSettings() });
    await bot.router.handle(photoEdit(attachment('house.png'), { edit: 'sun→moon', description: HOUSE }));
    await bot.jobs.idle();
    const params = (bot.backend.started[1] as EditJob).params;
    expect(bot.store.trajectoryStats().entries).toBe(1);
    // Another trajectory stored under a budget that holds only it evicts the picture's inversion.
    bot.store.putTrajectory('other', { data: new Float32Array(1), shape: [1, 1, 1, 1] }, 4);
    expect(bot.store.getTrajectory(sourceKey('fake', params))).toBeUndefined();
    const before = requests.length;
    await bot.router.handle(slash('edit', { edit: 'house→barn', image: '#1' }));
    await bot.jobs.idle();
    expect(bot.backend.started.map((j) => j.kind)).toEqual(['invert', 'edit', 'invert', 'edit']);
    expect(requests.length).toBe(before); // from the kept picture, not downloaded again
  });

  test.each([
    ['a file that is not a picture by its type', () => attachment('notes.txt'), /“notes\.txt” is not a picture \(text\/plain\)/, true],
    ['an address that gives no picture', () => attachment('notes.txt', { contentType: undefined }), /is not a picture \(its address gives text\/plain\)/, false],
    ['not an image (bytes)', () => attachment('fake.png'), /not an image reprompt can read/, false],
    ['a 1×1 image', () => attachment('dot.png'), /1×1 pixels, too small to edit/, false],
    ['a 20000×20000 image (its header)', () => attachment('huge.png'), /20000×20000 pixels \(400 megapixels\), too large to open/, false],
    ['an animated GIF', () => attachment('anim.gif'), /animated or has 2 pages/, false],
    ['a file too large (as Discord reports it)', () => attachment('house.png', { size: 26 * 1024 * 1024 }), /26 MiB: pictures of at most 25 MiB/, true],
    ['an address that answers 404', () => attachment('gone.png', { contentType: 'image/png' }), /could not download “gone\.png” \(HTTP 404\)/, false],
  ])('%s: a clear message, nothing queued', async (_case, file, message, noDownload) => {
    const bot = testBot();
    const before = requests.length;
    const ix = photoEdit(file(), { edit: 'house→castle', description: HOUSE });
    await bot.router.handle(ix);
    expect(ix.lastText).toMatch(message);
    expect(bot.backend.started).toEqual([]);
    expect(bot.store.get(1)).toBeUndefined();
    if (noDownload) expect(requests.length).toBe(before);
  });

  test.each([
    ['a description without the swapped word', { edit: 'castle→house', description: HOUSE }, /“castle” is not in the prompt/],
    ['no description', { edit: 'house→castle' }, /Describe your picture in “description”/],
    ['photo and image together', { edit: 'house→castle', description: HOUSE, image: '#1' }, /either photo .* or image/],
  ])('%s: answered before any download, nothing queued', async (_case, options, message) => {
    const bot = testBot();
    const before = requests.length;
    const ix = photoEdit(attachment('house.png'), options);
    await bot.router.handle(ix);
    expect(ix.lastText).toMatch(message);
    expect(requests.length).toBe(before);
    expect(bot.backend.started).toEqual([]);
  });

  test('a description without a picture is refused', async () => {
    const bot = testBot();
    const ix = slash('edit', { edit: 'house→castle', description: HOUSE });
    await bot.router.handle(ix);
    expect(ix.lastText).toMatch(/description describes an attached picture/);
  });

  test('"Edit with prompt" on anyone’s message with a picture asks for its description, then edits the picture', async () => {
    const bot = testBot();
    const target = { channelId: 'c1', messageId: '777' };
    const menu = interaction<'message-menu'>({ kind: 'message-menu', command: 'Edit with prompt', target, targetAttachments: [attachment('notes.txt'), attachment('house.png')] });
    await bot.router.handle(menu);
    expect(menu.calls.map((c) => c.op)).toEqual(['showModal']);
    const modal = menu.calls[0].modal!;
    expect(modal.customId).toMatch(/^photo-modal:\d+$/);
    expect(modal.fields.map((f) => f.id)).toEqual(['description', 'edit', 'cross', 'self', 'blend']);

    const submit = interaction<'modal'>({ kind: 'modal', customId: modal.customId, fields: { description: HOUSE, edit: 'house→castle', cross: '0.6', self: '', blend: '' } });
    await bot.router.handle(submit);
    expect(submit.lastText).toMatch(/^Queued as job #1 .*editing your picture \(256×192\)/);
    await bot.jobs.idle();
    expect(bot.backend.started.map((j) => j.kind)).toEqual(['invert', 'edit']);
    expect((bot.backend.started[1] as EditJob).params).toMatchObject({ edit: 'house→castle', cross: 0.6, source: { prompt: HOUSE } });

    // The dialog is used up; a message without a picture is refused.
    const again = interaction<'modal'>({ kind: 'modal', customId: modal.customId, fields: { description: HOUSE, edit: 'house→barn', cross: '', self: '', blend: '' } });
    await bot.router.handle(again);
    expect(again.lastText).toMatch(/This dialog has expired/);
    const bare = interaction<'message-menu'>({ kind: 'message-menu', command: 'Edit with prompt', target, targetAttachments: [attachment('notes.txt')] });
    await bot.router.handle(bare);
    expect(bare.lastText).toMatch(/not one of my images and has no picture attached/);
  });
});
