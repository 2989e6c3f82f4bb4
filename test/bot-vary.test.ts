/**
 * Vary (Subtle / Strong) and Upscale ×2 through the interaction port: each button makes a job of its own from the
 * image it is under (the PNG the bot kept of it), limits are answered before anything is queued.
 */
import { describe, expect, test } from '@jest/globals';
import Database from 'better-sqlite3';
import sharp from 'sharp';
import type { Img2ImgRequest } from '../src/bot/job.js';
import { JobStore } from '../src/bot/store.js';
import { press, slash, tempDbPath, testBot, testSettings } from './bot-fakes.js';

const fox = { prompt: 'a red fox', seed: '42', steps: 4, width: 128, height: 192 };

async function withImage(options: Record<string, string | number> = fox, settings = testSettings()) {
  const bot = testBot({ settings });
  await bot.router.handle(slash('imagine', options));
  await bot.jobs.idle();
  return bot;
}

type Bot = Awaited<ReturnType<typeof withImage>>;

const img2img = (bot: Bot, id: number): Img2ImgRequest => {
  const request = bot.store.get(id)!.request;
  if (request.kind !== 'img2img') throw new Error(`job ${id} is not a Vary / Upscale`);
  return request;
};

const fieldsOf = (bot: Bot, id: number) => Object.fromEntries((bot.sink.messageOfJob(id).message.fields ?? []).map((f) => [f.name, f.value]));

describe('Vary and Upscale', () => {
  test('Vary (Subtle) under a generation: a new job from its stored PNG, same prompt and settings, new seed, strength 0.35', async () => {
    const bot = await withImage();
    const shown = bot.sink.messageOfJob(1);
    const ix = press('vary-subtle:1', shown.ref);
    await bot.router.handle(ix);
    expect(ix.lastText).toMatch(/^Queued as job #2/);
    await bot.jobs.idle();

    const request = img2img(bot, 2);
    expect(request).toMatchObject({ strength: 0.35, sourceJobId: 1, params: { prompt: 'a red fox', steps: 4, guidance: 7.5, width: 128, height: 192 } });
    expect(request.params.seed).not.toBe('42');
    expect(bot.store.get(2)).toMatchObject({ origin: 'vary-subtle', parentId: 1, status: 'done', outcome: { kind: 'img2img', strength: 0.35 } });
    // The engine got exactly the picture the user saw under job #1.
    expect(Buffer.from(bot.backend.img2imgInputs[0]).equals(Buffer.from(shown.message.attachments![0].data))).toBe(true);

    const result = bot.sink.messageOfJob(2).message;
    expect(result.content).toMatch(/job #2 · subtle variation of #1$/);
    expect(fieldsOf(bot, 2)).toMatchObject({ Prompt: 'a red fox', Strength: '0.35', Size: '128×192' });
    // Under a Vary: guidance variations, Vary and Upscale again, Delete; no Edit (Prompt-to-Prompt cannot re-derive it), no Reroll.
    expect(result.rows!.map((r) => r.map((b) => b.label))).toEqual([
      ['CFG 4 (lower)', 'CFG 11.5 (higher)', 'CFG −7.5 (away from prompt)'],
      ['Vary (Subtle)', 'Vary (Strong)', 'Upscale ×2', 'Delete'],
    ]);
  });

  test('Vary (Strong) is strength 0.7; a guidance variation of a Vary still starts from the Vary\'s own input', async () => {
    const bot = await withImage();
    await bot.router.handle(press('vary-strong:1', bot.sink.messageOfJob(1).ref));
    await bot.jobs.idle();
    expect(img2img(bot, 2)).toMatchObject({ strength: 0.7, sourceJobId: 1 });
    await bot.router.handle(press('cfg-higher:2', bot.sink.messageOfJob(2).ref));
    await bot.jobs.idle();
    expect(img2img(bot, 3)).toMatchObject({ strength: 0.7, sourceJobId: 1, params: { guidance: 11.5, seed: img2img(bot, 2).params.seed } });
    expect(Buffer.from(bot.backend.img2imgInputs[1]).equals(Buffer.from(bot.backend.img2imgInputs[0]))).toBe(true);
  });

  test('Upscale ×2: twice the size, same seed, strength 0.35; an upscale of the upscale is refused where 2× passes MAX_SIZE', async () => {
    const bot = await withImage({ ...fox, width: 128, height: 128 }, testSettings({ maxSize: 512 }));
    await bot.router.handle(press('upscale:1', bot.sink.messageOfJob(1).ref));
    await bot.jobs.idle();
    expect(img2img(bot, 2)).toMatchObject({ strength: 0.35, sourceJobId: 1, params: { seed: '42', width: 256, height: 256 } });
    const upscaled = bot.sink.messageOfJob(2).message;
    expect(upscaled.content).toMatch(/job #2 · upscale of #1$/);
    const meta = await sharp(upscaled.attachments![0].data).metadata();
    expect([meta.width, meta.height]).toEqual([256, 256]);
    // 256 → 512 is allowed (the limit is 512) …
    expect(upscaled.rows!.flat().map((b) => b.customId)).toContain('upscale:2');
    await bot.router.handle(press('upscale:2', bot.sink.messageOfJob(2).ref));
    await bot.jobs.idle();
    expect(img2img(bot, 3).params).toMatchObject({ width: 512, height: 512 });
    // … 512 → 1024 is not: the button is not shown, and pressing it anyway is answered, nothing queued.
    const large = bot.sink.messageOfJob(3).message;
    expect(large.rows!.flat().map((b) => b.label)).not.toContain('Upscale ×2');
    const ix = press('upscale:3', bot.sink.messageOfJob(3).ref);
    await bot.router.handle(ix);
    expect(ix.lastText).toBe("⚠️ Job #3 is 512×512: upscaled ×2 it would be 1024×1024, above this bot's limit of 512 pixels per side.");
    expect(bot.store.get(4)).toBeUndefined();
    expect(bot.backend.img2imgInputs).toHaveLength(2);
  });

  test('Vary under an edit varies the edited picture: its target prompt, its own PNG', async () => {
    const bot = await withImage();
    await bot.router.handle(slash('edit', { edit: 'fox→cat' }));
    await bot.jobs.idle();
    const edited = bot.sink.messageOfJob(2);
    await bot.router.handle(press('vary-subtle:2', edited.ref));
    await bot.jobs.idle();
    expect(img2img(bot, 3)).toMatchObject({ sourceJobId: 2, params: { prompt: 'a red cat', width: 128, height: 192 } });
    expect(Buffer.from(bot.backend.img2imgInputs[0]).equals(Buffer.from(edited.message.attachments![0].data))).toBe(true);
  });

  test('a Vary result cannot be edited with Prompt-to-Prompt: /edit says which job to edit instead', async () => {
    const bot = await withImage();
    await bot.router.handle(press('vary-subtle:1', bot.sink.messageOfJob(1).ref));
    await bot.jobs.idle();
    const ix = slash('edit', { edit: 'fox→cat' }); // the latest image is the Vary
    await bot.router.handle(ix);
    expect(ix.lastText).toContain('Job #2 was drawn from another image (Vary / Upscale)');
    expect(ix.lastText).toContain('edit job #1 instead');
    expect(bot.store.get(3)).toBeUndefined();
  });

  test('an image the bot did not keep (finished before it kept images) is answered before queueing', async () => {
    const settings = testSettings();
    const bot = await withImage(fox, settings);
    // A store from before: the job is done but its PNG is not there.
    const db = new Database(settings.dbPath);
    db.prepare('DELETE FROM images').run();
    db.close();
    const ix = press('vary-strong:1', bot.sink.messageOfJob(1).ref);
    await bot.router.handle(ix);
    expect(ix.lastText).toContain('The image of job #1 was made before this bot kept images');
    expect(bot.store.get(2)).toBeUndefined();
  });

  test('every finished image is kept: the PNG the channel shows', async () => {
    const bot = await withImage();
    expect(Buffer.from(bot.store.image(1)!).equals(Buffer.from(bot.sink.messageOfJob(1).message.attachments![0].data))).toBe(true);
  });
});

describe('the store before Vary / Upscale', () => {
  test('a version-1 database keeps its jobs (parents included) and takes img2img jobs after the migration', () => {
    const path = tempDbPath();
    const store = new JobStore(path);
    store.close();
    // Roll the file back to schema 1 as shipped (before source trajectories and kept images).
    const db = new Database(path);
    db.exec(`DROP TABLE images; DROP TABLE trajectories; DROP TABLE photos; PRAGMA user_version = 1;`);
    const params = JSON.stringify({ kind: 'imagine', params: { ...fox, negativePrompt: '', guidance: 7.5 } });
    const insert = db.prepare(`INSERT INTO jobs (kind, request, origin, parent_id, user_id, user_name, channel_id, status, created_at) VALUES ('imagine', ?, ?, ?, 'u', 'u', 'c', 'done', 1)`);
    insert.run(params, 'imagine', null);
    insert.run(params, 'reroll', 1);
    db.close();

    const migrated = new JobStore(path);
    expect(migrated.schemaVersion).toBe(4);
    expect(migrated.get(2)).toMatchObject({ origin: 'reroll', parentId: 1, status: 'done' });
    const vary = migrated.create({
      request: { kind: 'img2img', params: { ...fox, negativePrompt: '', guidance: 7.5 }, strength: 0.7, sourceJobId: 2 },
      origin: 'vary-strong',
      parentId: 2,
      userId: 'u',
      userName: 'u',
      guildId: null,
      channelId: 'c',
    });
    expect(migrated.get(vary.id)?.request.kind).toBe('img2img');
    migrated.saveImage(vary.id, new Uint8Array([1, 2, 3]));
    expect([...migrated.image(vary.id)!]).toEqual([1, 2, 3]);
    expect(migrated.image(1)).toBeUndefined();
    migrated.close();
  });
});
