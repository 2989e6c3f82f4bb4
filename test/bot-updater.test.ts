import { describe, expect, jest, test } from '@jest/globals';
import sharp from 'sharp';
import { fitUpload } from '../src/bot/fit-upload.js';
import { silentLogger } from '../src/bot/log.js';
import type { Logger } from '../src/bot/log.js';
import { MessageGone, type MessageRef } from '../src/bot/port/index.js';
import { MessageUpdater } from '../src/bot/updater.js';
import { FakeBackend, noisePng, RecordingSink, slash, testBot, testSettings } from './bot-fakes.js';

/** A logger that keeps its lines (and whether each came with an error object, i.e. a stack trace). */
function recordingLogger(): Logger & { lines: { level: string; message: string; error: boolean }[] } {
  const lines: { level: string; message: string; error: boolean }[] = [];
  const push = (level: string) => (message: string, error?: unknown) => lines.push({ level, message, error: error !== undefined });
  return { lines, info: push('info'), warn: push('warn'), error: push('error') };
}

/** The most edits any `windowMs` window holds (edits at times t, windows (t − windowMs, t]). */
function busiestWindow(times: number[], windowMs: number): number {
  return Math.max(0, ...times.map((t) => times.filter((u) => u > t - windowMs && u <= t).length));
}

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

describe('MessageUpdater: the per-channel edit budget (fake clock)', () => {
  test('5 jobs in one channel share its budget: never more than 30 edits a minute, each gets its turn, results go first', async () => {
    jest.useFakeTimers();
    try {
      const sink = new RecordingSink();
      const budget = { edits: 30, windowMs: 60_000 };
      const updater = new MessageUpdater(sink, 3000, silentLogger, budget);
      const jobs = await Promise.all([1, 2, 3, 4, 5].map((i) => sink.post('c1', { content: `job ${i} queued` })));
      const other = await sink.post('c2', { content: 'another channel' });
      const sentAt = new Map<string, number[]>();
      const realEdit = sink.edit.bind(sink);
      sink.edit = async (ref, message) => {
        sentAt.set(ref.messageId, [...(sentAt.get(ref.messageId) ?? []), Date.now()]);
        return realEdit(ref, message);
      };
      // Every job reports a step every 200 ms for 3 minutes; another channel is busy too.
      const finals: Promise<void>[] = [];
      for (let t = 0; t < 180_000; t += 200) {
        jobs.forEach((ref, i) => updater.update(ref, { content: `job ${i + 1} at ${t} ms` }));
        updater.update(other, { content: `other at ${t} ms` });
        await jest.advanceTimersByTimeAsync(200);
      }
      const finishedAt = Date.now();
      for (const [i, ref] of jobs.entries()) finals.push(updater.final(ref, { content: `job ${i + 1} done` }));
      await jest.advanceTimersByTimeAsync(120_000);
      await Promise.all(finals);

      const channel = jobs.flatMap((ref) => sentAt.get(ref.messageId) ?? []).sort((a, b) => a - b);
      expect(busiestWindow(channel, budget.windowMs)).toBeLessThanOrEqual(30);
      // The budget is used, not wasted: about 30 a minute over 3 minutes.
      expect(channel.filter((t) => t < finishedAt).length).toBeGreaterThanOrEqual(80);
      for (const ref of jobs) {
        const times = sentAt.get(ref.messageId)!;
        // Each job gets a fair share, and one message is edited at most every 3 s.
        expect(times.filter((t) => t < finishedAt).length).toBeGreaterThanOrEqual(15);
        expect(Math.min(...times.slice(1).map((t, k) => t - times[k]))).toBeGreaterThanOrEqual(3000);
        expect(sink.messages.get(ref.messageId)!.message.content).toMatch(/done$/);
      }
      // The other channel has its own budget: one edit per 3 s.
      expect((sentAt.get(other.messageId) ?? []).length).toBeGreaterThanOrEqual(59);
    } finally {
      jest.useRealTimers();
    }
  });

  test('with the budget used up, a final edit waits for it but goes before pending progress', async () => {
    jest.useFakeTimers();
    try {
      const sink = new RecordingSink();
      const updater = new MessageUpdater(sink, 0, silentLogger, { edits: 2, windowMs: 10_000 });
      const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((id) => sink.post('ch', { content: id })));
      updater.update(a, { content: 'a1' });
      updater.update(b, { content: 'b1' });
      updater.update(c, { content: 'c1' });
      await jest.advanceTimersByTimeAsync(0);
      const edits = () => sink.events.filter((e) => e.op === 'edit').map((e) => e.message!.content);
      expect(edits()).toEqual(['a1', 'b1']); // c waits: the channel's 2 edits are spent
      let done = false;
      void updater.final(a, { content: 'a done' }).then(() => (done = true));
      await jest.advanceTimersByTimeAsync(9_999);
      expect([edits().length, done]).toEqual([2, false]);
      await jest.advanceTimersByTimeAsync(1);
      expect(edits()).toEqual(['a1', 'b1', 'a done', 'c1']);
      expect(done).toBe(true);
    } finally {
      jest.useRealTimers();
    }
  });
});

describe('the job service uses the sink\'s edit budget', () => {
  test('5 jobs finishing together in one channel: results beyond the budget wait for it, none is lost', async () => {
    // Only timers are faked: the fake backend and sharp still run on real event-loop turns.
    jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick', 'queueMicrotask'] });
    try {
      const sink = new RecordingSink();
      sink.editBudget = { edits: 3, windowMs: 60_000 };
      const backend = new FakeBackend();
      backend.engines = 5;
      const bot = testBot({ sink, backend, settings: testSettings({ queue: { maxLength: 20, userMaxPending: 5 }, progressIntervalMs: 3000 }) });
      const edits = () => sink.events.filter((e) => e.op === 'edit');
      const done = () => [1, 2, 3, 4, 5].filter((id) => bot.sink.messageOfJob(id).message.content.startsWith('✅'));
      const settle = async (until: () => boolean) => {
        for (let i = 0; i < 3000 && !until(); i++) {
          await new Promise((r) => setImmediate(r));
          await jest.advanceTimersByTimeAsync(0);
        }
      };
      const sentAt: number[] = [];
      const realEdit = sink.edit.bind(sink);
      sink.edit = (ref, message) => (sentAt.push(Date.now()), realEdit(ref, message));
      for (let i = 1; i <= 5; i++) await bot.router.handle(slash('imagine', { prompt: `fox ${i}`, steps: 6, width: 64, height: 64 }));
      await settle(() => bot.backend.started.length === 5 && edits().length >= 3);
      await settle(() => false); // more turns: nothing beyond the budget may go out in this minute
      expect(edits().length).toBe(3);
      expect(done().length).toBeLessThan(5);
      // Minute by minute the rest lands (finals before progress), never more than 3 edits in a minute.
      for (let minute = 0; minute < 10 && done().length < 5; minute++) {
        await jest.advanceTimersByTimeAsync(60_000);
        await settle(() => done().length === 5);
      }
      expect(done()).toEqual([1, 2, 3, 4, 5]);
      expect(busiestWindow(sentAt, 60_000)).toBeLessThanOrEqual(3);
    } finally {
      jest.useRealTimers();
    }
  });
});

describe('MessageUpdater: deleted messages', () => {
  test('after the first "message gone" no more edits are sent; one log line, no stack trace; a final edit is refused at once', async () => {
    jest.useFakeTimers();
    try {
      const sink = new RecordingSink();
      const log = recordingLogger();
      const updater = new MessageUpdater(sink, 1000, log);
      const ref: MessageRef = await sink.post('c', { content: 'queued' });
      await sink.delete(ref);
      let attempts = 0;
      const realEdit = sink.edit.bind(sink);
      sink.edit = (r, m) => (attempts++, realEdit(r, m));
      for (let i = 1; i <= 20; i++) {
        updater.update(ref, { content: `step ${i}` });
        await jest.advanceTimersByTimeAsync(1000);
      }
      expect(attempts).toBe(1);
      expect(log.lines).toEqual([{ level: 'info', message: `message ${ref.messageId} in channel c was deleted; no more edits to it`, error: false }]);
      const final = updater.final(ref, { content: 'done' });
      await expect(final).rejects.toBeInstanceOf(MessageGone);
      expect(attempts).toBe(1);
    } finally {
      jest.useRealTimers();
    }
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
