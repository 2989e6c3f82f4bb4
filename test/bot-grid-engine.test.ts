/**
 * The grid and Upscale on the real engine (bundled tiny model, worker thread, 64×64, 2 steps): a grid candidate's
 * picture equals a single /imagine with seed+k (±2 levels), and U1 upscales candidate 1 from its stored PNG.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import sharp from 'sharp';
import { createBotApp, type BotApp } from '../src/bot/app.js';
import type { ImageBackend } from '../src/bot/backend.js';
import { startEngineBackend } from '../src/bot/engine-backend.js';
import { silentLogger } from '../src/bot/log.js';
import { press, RecordingSink, slash, testSettings } from './bot-fakes.js';
import { tinyModelDir } from './helpers.js';

const pixels = async (png: Uint8Array) => sharp(png).removeAlpha().raw().toBuffer();

describe('grid and Upscale on the engine', () => {
  let backend: ImageBackend;
  let bot: BotApp;
  const sink = new RecordingSink();
  beforeAll(async () => {
    backend = await startEngineBackend({ modelDir: tinyModelDir, provider: 'cpu', threads: 1, attentionStoreMb: 16 });
    bot = createBotApp({ settings: testSettings({ defaults: { steps: 2, size: 64, guidance: 7.5, count: 1 } }), backend, sink, log: silentLogger, messageContent: false });
  });
  afterAll(async () => {
    await bot?.close();
    await backend?.close();
  });

  test("candidate 2 of a grid equals /imagine seed+1; U1 is candidate 1 at 128×128", async () => {
    await bot.router.handle(slash('imagine', { prompt: 'a red fox on a mat', seed: '7', sampler: 'ddim', count: 2 }));
    await bot.jobs.idle();
    await bot.router.handle(slash('imagine', { prompt: 'a red fox on a mat', seed: '8', sampler: 'ddim' }));
    await bot.jobs.idle();
    expect(bot.store.get(1)).toMatchObject({ status: 'done', outcome: { kind: 'imagine-grid', candidates: [2, 3] } });
    const candidate = await pixels(bot.store.image(3)!);
    const single = await pixels(sink.messageOfJob(4).message.attachments![0].data);
    expect(candidate.length).toBe(single.length);
    const worst = candidate.reduce((m, v, i) => Math.max(m, Math.abs(v - single[i])), 0);
    expect(worst).toBeLessThanOrEqual(2);

    await bot.router.handle(press('upscale:2', sink.messageOfJob(1).ref));
    await bot.jobs.idle();
    expect(bot.store.get(5)).toMatchObject({ status: 'done', origin: 'upscale', parentId: 2, outcome: { kind: 'img2img', strength: 0.35 } });
    expect(await sharp(sink.messageOfJob(5).message.attachments![0].data).metadata()).toMatchObject({ width: 128, height: 128 });
  }, 120_000);
});
