/** The real ImageBackend on the bundled tiny model (worker thread, ONNX Runtime with one thread). */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import sharp from 'sharp';
import type { ImagineParams, StepProgress } from '../src/engine/jobs.js';
import type { ImageBackend } from '../src/bot/backend.js';
import { startEngineBackend } from '../src/bot/engine-backend.js';
import { tinyModelDir } from './helpers.js';

const params: ImagineParams = { prompt: 'a red fox on a mat', negativePrompt: '', seed: '42', steps: 2, guidance: 7.5, width: 64, height: 64, sampler: 'ddim' };

describe('engine backend (EngineWorker + the application handlers)', () => {
  let backend: ImageBackend;
  beforeAll(async () => {
    backend = await startEngineBackend({ modelDir: tinyModelDir, provider: 'cpu', threads: 1, attentionStoreMb: 64 });
  });
  afterAll(async () => {
    await backend?.close();
  });

  test("limits and info come from the loaded model", () => {
    expect(backend.info).toEqual({ model: 'tiny-sd15', provider: 'cpu', defaultSampler: 'pndm' });
    expect(backend.limits).toMatchObject({ minSize: 64, sizeMultiple: 8 });
    expect(backend.limits.samplers).toContain('ddim');
  });

  test('imagine reports progress per UNet call and returns a PNG of the asked size', async () => {
    const progress: StepProgress[] = [];
    const result = await backend.imagine({ kind: 'imagine', params }, { onProgress: (p) => progress.push(p), signal: new AbortController().signal });
    expect(progress.map((p) => `${p.step}/${p.total}`)).toEqual(['1/2', '2/2']);
    expect(result.params).toMatchObject({ seed: '42', sampler: 'ddim' });
    const meta = await sharp(result.image.png).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['png', 64, 64]);
  });

  test('the attention store size arrives as an option: a second edit of the same source reuses it', async () => {
    const run = () => backend.edit({ kind: 'edit', params: { source: { ...params, seed: '7' }, edit: 'fox→dog' } }, { onProgress: () => {}, signal: new AbortController().signal });
    await run();
    expect((await run()).reusedSource).toBe(true);
  });

  test('edit returns the target prompt and mode; an aborted job rejects with a cancelled UserError', async () => {
    const result = await backend.edit({ kind: 'edit', params: { source: params, edit: 'fox→cat' } }, { onProgress: () => {}, signal: new AbortController().signal });
    expect([result.targetPrompt, result.mode]).toEqual(['a red cat on a mat', 'replace']);
    const controller = new AbortController();
    controller.abort();
    await expect(backend.imagine({ kind: 'imagine', params }, { onProgress: () => {}, signal: controller.signal })).rejects.toMatchObject({ name: 'UserError', code: 'cancelled' });
  });
});

test('with ATTENTION_STORE_MB 0 (attentionStoreMb: 0) the worker keeps no store: a repeated edit recomputes its source', async () => {
  const backend = await startEngineBackend({ modelDir: tinyModelDir, provider: 'cpu', threads: 1, attentionStoreMb: 0 });
  try {
    const run = () => backend.edit({ kind: 'edit', params: { source: params, edit: 'fox→dog' } }, { onProgress: () => {}, signal: new AbortController().signal });
    await run();
    expect((await run()).reusedSource).toBe(false);
  } finally {
    await backend.close();
  }
});
