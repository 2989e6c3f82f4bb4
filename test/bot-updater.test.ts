import { describe, expect, jest, test } from '@jest/globals';
import sharp from 'sharp';
import { fitUpload } from '../src/bot/fit-upload.js';
import { silentLogger } from '../src/bot/log.js';
import { MessageUpdater } from '../src/bot/updater.js';
import { noisePng, RecordingSink } from './bot-fakes.js';

describe('MessageUpdater', () => {
  test('coalesces a burst into the newest content, and waits the interval before the next edit of that message', async () => {
    jest.useFakeTimers();
    try {
      const sink = new RecordingSink();
      const a = await sink.post('c', { content: 'a0' });
      const b = await sink.post('c', { content: 'b0' });
      const updater = new MessageUpdater(sink, 1500, silentLogger);
      const edits = (ref: typeof a) => sink.events.filter((e) => e.op === 'edit' && e.ref.messageId === ref.messageId).map((e) => e.message!.content);
      for (let i = 1; i <= 10; i++) {
        updater.update(a, { content: `a${i}` });
        updater.update(b, { content: `b${i}` });
      }
      await jest.advanceTimersByTimeAsync(0);
      expect(edits(a)).toEqual(['a10']);
      expect(edits(b)).toEqual(['b10']);
      updater.update(a, { content: 'a11' });
      updater.update(a, { content: 'a12' });
      await jest.advanceTimersByTimeAsync(1499);
      expect(edits(a)).toEqual(['a10']); // not yet: one edit per 1.5 s per message
      await jest.advanceTimersByTimeAsync(1);
      expect(edits(a)).toEqual(['a10', 'a12']);
      expect(edits(b)).toEqual(['b10']);
    } finally {
      jest.useRealTimers();
    }
  });

  test('a final edit is sent even after progress updates, and its failure is reported to the caller', async () => {
    const sink = new RecordingSink();
    const ref = await sink.post('c', { content: 'queued' });
    const updater = new MessageUpdater(sink, 20, silentLogger);
    updater.update(ref, { content: 'step 1/4' });
    updater.update(ref, { content: 'step 2/4' });
    await updater.final(ref, { content: 'done' });
    expect(sink.messages.get(ref.messageId)!.message.content).toBe('done');
    sink.failEdits = true;
    await expect(updater.final(ref, { content: 'again' })).rejects.toThrow('Unknown Message');
  });

  test('a progress update that arrives after the final edit was asked for does not replace it', async () => {
    const sink = new RecordingSink();
    const ref = await sink.post('c', { content: 'queued' });
    const updater = new MessageUpdater(sink, 20, silentLogger);
    const final = updater.final(ref, { content: 'done' });
    updater.update(ref, { content: 'step 4/4' });
    await final;
    await updater.flush();
    expect(sink.messages.get(ref.messageId)!.message.content).toBe('done');
  });
});

describe('fitUpload (upload limit)', () => {
  test('an image within the limit is sent as the PNG it is', async () => {
    const png = await noisePng(64, 64, 'small');
    expect(await fitUpload('job-1', png, png.byteLength)).toEqual({ attachment: { name: 'job-1.png', data: png } });
  });

  test('a larger one is re-encoded, then downscaled, until it fits; the note says what happened', async () => {
    const png = await noisePng(256, 256, 'large'); // noise: ~190 KiB as PNG
    const reencoded = await fitUpload('job-2', png, 120 * 1024, 'a fox');
    expect(reencoded.attachment!.data.byteLength).toBeLessThanOrEqual(120 * 1024);
    expect(reencoded.attachment!.description).toBe('a fox');
    expect(reencoded.note).toMatch(/^Re-encoded as (WEBP|JPEG) \(quality 90\) to fit the 120 KiB upload limit\.$/);
    const meta = await sharp(reencoded.attachment!.data).metadata();
    expect([meta.width, meta.height]).toEqual([256, 256]);

    const downscaled = await fitUpload('job-3', png, 20 * 1024);
    const small = await sharp(downscaled.attachment!.data).metadata();
    expect(downscaled.attachment!.data.byteLength).toBeLessThanOrEqual(20 * 1024);
    expect(small.format).toBe('webp');
    expect(small.width).toBeLessThan(256);
    expect(downscaled.note).toBe(`Downscaled to ${small.width}×${small.height} WebP to fit the 20 KiB upload limit.`);
  });

  test('an image that cannot be made small enough is reported, not dropped silently', async () => {
    const png = await noisePng(128, 128, 'stubborn');
    const result = await fitUpload('job-4', png, 100);
    expect(result.attachment).toBeUndefined();
    expect(result.note).toMatch(/^The 128×128 image \(\d+(\.\d)? KiB\) could not be made smaller than the 100 B upload limit\.$/);
  });
});
