/** The real ImageBackend on the bundled tiny model (worker thread, ONNX Runtime with one thread). */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import type { ImagineParams, StepProgress } from '../src/engine/jobs.js';
import type { ImageBackend } from '../src/bot/backend.js';
import { startEngineBackend } from '../src/bot/engine-backend.js';
import { referencePath, tinyModelDir } from './helpers.js';
import { photoEditJob, photoEditParams, photoId, photoInvertJob } from '../src/p2p/photo-edit.js';

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

  test('invert (a picture) then edit replaying it: one UNet call per inversion step; a picture edit without its inversion is refused', async () => {
    const image = readFileSync(referencePath('inversion/photo_256x192.png'));
    const request = { description: 'a drawing of a house under the sun', negativePrompt: '', steps: 2, guidance: 7.5, edit: 'house→castle' };
    const editParams = photoEditParams(request, { id: photoId(image), width: 128, height: 96 });
    const progress: StepProgress[] = [];
    const inverted = await backend.invert(photoInvertJob(editParams, image), { onProgress: (p) => progress.push(p), signal: new AbortController().signal });
    expect(progress.map((p) => `${p.step}/${p.total}`)).toEqual(['1/2', '2/2']);
    expect(inverted.trajectory.shape).toEqual([3, 4, 12, 16]);
    expect(inverted.timings.unetCalls).toBe(2);
    const edited = await backend.edit(photoEditJob(editParams, inverted), { onProgress: () => {}, signal: new AbortController().signal });
    expect([edited.targetPrompt, edited.sourceFrom]).toEqual(['a drawing of a castle under the sun', 'trajectory']);
    await expect(backend.edit({ kind: 'edit', params: { ...editParams, source: { ...editParams.source, seed: '1' } } }, { onProgress: () => {}, signal: new AbortController().signal })).rejects.toMatchObject({
      code: 'bad_input',
      message: expect.stringContaining('without the picture’s inversion'),
    });
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
