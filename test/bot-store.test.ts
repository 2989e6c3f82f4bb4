import { describe, expect, test } from '@jest/globals';
import Database from 'better-sqlite3';
import type { ImagineParams } from '../src/engine/jobs.js';
import { JobStore, type NewJob } from '../src/bot/store.js';
import { tempDbPath } from './bot-fakes.js';

const params: ImagineParams = { prompt: 'a red fox', negativePrompt: '', seed: '18446744073709551615', steps: 4, guidance: 7.5, width: 128, height: 128 };
const job = (over: Partial<NewJob> = {}): NewJob => ({
  request: { kind: 'imagine', params },
  origin: 'imagine',
  parentId: null,
  userId: 'u1',
  userName: 'alice',
  guildId: 'g1',
  channelId: 'c1',
  ...over,
});
const timings = { totalMs: 1, textEncoderMs: 0, unetMs: 0, unetCalls: 0, vaeMs: 0, hostMsPerStep: 0 };

describe('JobStore', () => {
  test('creates the schema at its latest version in WAL mode, and reopening does not migrate again', () => {
    const path = tempDbPath();
    const store = new JobStore(path);
    expect(store.schemaVersion).toBe(4);
    store.create(job());
    store.close();
    const db = new Database(path);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.close();
    const reopened = new JobStore(path);
    expect(reopened.schemaVersion).toBe(4);
    expect(reopened.get(1)?.request).toEqual({ kind: 'imagine', params });
    reopened.close();
  });

  test('a version-1 database (before source trajectories) gains the trajectories table and keeps its jobs', () => {
    const path = tempDbPath();
    const store = new JobStore(path);
    store.create(job());
    store.close();
    const db = new Database(path);
    db.exec('DROP TABLE trajectories; DROP TABLE images; DROP TABLE photos');
    db.pragma('user_version = 1');
    db.close();
    const migrated = new JobStore(path);
    expect(migrated.schemaVersion).toBe(4);
    expect(migrated.get(1)?.request).toEqual({ kind: 'imagine', params });
    expect(migrated.trajectoryStats()).toEqual({ entries: 0, bytes: 0 });
    expect(migrated.getPhoto('a')).toBeUndefined();
    migrated.close();
  });

  test('keeps users’ pictures by id, once', () => {
    const store = new JobStore(':memory:');
    const png = new Uint8Array([137, 80, 78, 71, 1, 2, 3]);
    store.putPhoto({ id: 'abc', png, width: 64, height: 128 });
    store.putPhoto({ id: 'abc', png: new Uint8Array([9]), width: 1, height: 1 });
    expect(store.getPhoto('abc')).toEqual({ id: 'abc', png, width: 64, height: 128 });
    expect(store.getPhoto('other')).toBeUndefined();
  });

  test('keeps the whole lifecycle: queued → running → done, with parameters (64-bit seed exact) and outcome', () => {
    let now = 1000;
    const store = new JobStore(':memory:', () => now);
    const created = store.create(job());
    expect(created).toMatchObject({ id: 1, status: 'queued', createdAt: 1000, messageId: null, error: null, outcome: null, deleted: false });
    store.setMessage(1, 'm1');
    now = 2000;
    expect(store.markRunning(1)).toMatchObject({ status: 'running', startedAt: 2000 });
    now = 3000;
    const done = store.markDone(1, { kind: 'imagine', sampler: 'pndm', truncated: [], timings });
    expect(done).toMatchObject({ status: 'done', finishedAt: 3000, outcome: { sampler: 'pndm' } });
    expect(done.request.kind === 'imagine' && done.request.params.seed).toBe('18446744073709551615');
    expect(store.byMessage('m1')?.id).toBe(1);
    expect(store.byMessage('nope')).toBeUndefined();
  });

  test('records failures as error values and edits with their parent', () => {
    const store = new JobStore(':memory:');
    store.create(job());
    const failed = store.markFailed(1, { code: 'bad_prompt', message: '"cow" is not in the prompt.' });
    expect(failed.error).toEqual({ code: 'bad_prompt', message: '"cow" is not in the prompt.' });
    const edit = store.create(job({ request: { kind: 'edit', params: { source: params, edit: 'fox→cat' } }, origin: 'edit', parentId: 1 }));
    expect(edit.parentId).toBe(1);
    expect(edit.request).toEqual({ kind: 'edit', params: { source: params, edit: 'fox→cat' } });
  });

  test("the user's latest image in a channel: the newest one asked for, skipping other users and channels, failed, cancelled, deleted and attention jobs", () => {
    const store = new JobStore(':memory:');
    const done = (over: Partial<NewJob> = {}) => store.markDone(store.create(job(over)).id, { kind: 'imagine', sampler: 'pndm', truncated: [], timings });
    const mine = done();
    done({ userId: 'u2' });
    done({ channelId: 'c2' });
    store.markFailed(store.create(job()).id, { code: 'bad_prompt', message: 'x' });
    store.markCancelled(store.create(job()).id);
    expect(store.latestImage('u1', 'c1')?.id).toBe(mine.id);
    const queued = store.create(job()); // still on its way: an edit needs only its parameters
    expect(store.latestImage('u1', 'c1')?.id).toBe(queued.id);
    const newer = done();
    done({ origin: 'attention', parentId: newer.id });
    expect(store.latestImage('u1', 'c1')?.id).toBe(newer.id);
    store.markDeleted(newer.id);
    expect(store.latestImage('u1', 'c1')?.id).toBe(queued.id);
    expect(store.latestImage('u3', 'c1')).toBeUndefined();
  });

  test('unfinished jobs (queued or running) survive closing the database, oldest first', () => {
    const path = tempDbPath();
    const store = new JobStore(path);
    store.create(job());
    store.markRunning(store.create(job()).id);
    store.markCancelled(store.create(job()).id);
    store.create(job({ userId: 'u2' }));
    store.close();
    const reopened = new JobStore(path);
    expect(reopened.unfinished().map((j) => [j.id, j.status])).toEqual([
      [1, 'queued'],
      [2, 'running'],
      [4, 'queued'],
    ]);
    expect(reopened.requeue(2)).toMatchObject({ status: 'queued', startedAt: null });
    reopened.close();
  });
});
