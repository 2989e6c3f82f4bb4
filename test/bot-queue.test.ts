import { describe, expect, test } from '@jest/globals';
import { isUserError } from '../src/engine/errors.js';
import { FairQueue } from '../src/bot/queue.js';

/** A queue whose jobs wait until the test finishes them. */
function harness(limits = { concurrency: 1, maxLength: 10, userMaxPending: 5 }) {
  const started: number[] = [];
  const finishers = new Map<number, () => void>();
  const aborted: number[] = [];
  const queue = new FairQueue(limits, (id, signal) => {
    started.push(id);
    return new Promise<void>((resolve) => {
      finishers.set(id, resolve);
      signal.addEventListener('abort', () => {
        aborted.push(id);
        resolve();
      });
    });
  });
  const finish = async (id: number) => {
    finishers.get(id)!();
    await new Promise((r) => setImmediate(r));
  };
  return { queue, started, finish, aborted };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('FairQueue', () => {
  test('round-robin across users, not arrival order', async () => {
    const { queue, started, finish } = harness();
    // alice fills the queue first; bob and carol arrive later.
    queue.enqueue({ id: 1, userId: 'alice' });
    await tick();
    queue.enqueue({ id: 2, userId: 'alice' });
    queue.enqueue({ id: 3, userId: 'alice' });
    queue.enqueue({ id: 4, userId: 'bob' });
    queue.enqueue({ id: 5, userId: 'carol' });
    queue.enqueue({ id: 6, userId: 'bob' });
    expect(started).toEqual([1]);
    // alice is being served, so bob and carol go before her next job.
    expect(queue.order().map((e) => e.id)).toEqual([4, 5, 2, 6, 3]);
    expect(queue.position(4)).toBe(1);
    expect(queue.position(3)).toBe(5);
    for (const id of [1, 4, 5, 2, 6, 3]) await finish(id);
    expect(started).toEqual([1, 4, 5, 2, 6, 3]);
  });

  test('positions move up as jobs start and when a waiting job is cancelled', async () => {
    const { queue, started, finish } = harness();
    for (const [id, userId] of [[1, 'a'], [2, 'b'], [3, 'c'], [4, 'd']] as const) queue.enqueue({ id, userId });
    await tick();
    expect(queue.position(4)).toBe(3);
    expect(queue.cancel(2)).toBe('waiting');
    expect(queue.position(4)).toBe(2);
    await finish(1);
    expect(queue.position(4)).toBe(1);
    await finish(3);
    await finish(4);
    expect(started).toEqual([1, 3, 4]); // the cancelled job never ran
  });

  test('cancelling a running job aborts its signal', async () => {
    const { queue, aborted } = harness();
    queue.enqueue({ id: 7, userId: 'a' });
    await tick();
    expect(queue.cancel(7)).toBe('running');
    expect(aborted).toEqual([7]);
    await tick();
    expect(queue.cancel(7)).toBe('absent');
  });

  test('refuses jobs over the per-user cap (running counts) and over the queue length', async () => {
    const { queue } = harness({ concurrency: 1, maxLength: 3, userMaxPending: 2 });
    queue.enqueue({ id: 1, userId: 'a' });
    await tick();
    queue.enqueue({ id: 2, userId: 'a' });
    const capped = (() => {
      try {
        queue.enqueue({ id: 3, userId: 'a' });
      } catch (e) {
        return e;
      }
    })();
    expect(isUserError(capped) && capped.code === 'busy' && /limit is 2/.test(capped.message)).toBe(true);
    queue.enqueue({ id: 4, userId: 'b' });
    queue.enqueue({ id: 5, userId: 'c' });
    expect(() => queue.enqueue({ id: 6, userId: 'd' })).toThrow(/queue is full/);
    // Jobs accepted before a restart are let in regardless.
    queue.enqueue({ id: 7, userId: 'a' }, { force: true });
    expect(queue.size).toBe(4);
  });

  test('pause stops new starts, resume continues; concurrency runs several at once', async () => {
    const { queue, started, finish } = harness({ concurrency: 2, maxLength: 10, userMaxPending: 5 });
    queue.pause();
    queue.enqueue({ id: 1, userId: 'a' });
    queue.enqueue({ id: 2, userId: 'b' });
    queue.enqueue({ id: 3, userId: 'c' });
    await tick();
    expect(started).toEqual([]);
    expect(queue.paused).toBe(true);
    queue.resume();
    await tick();
    expect(started).toEqual([1, 2]);
    expect(queue.runningIds().sort()).toEqual([1, 2]);
    await finish(2);
    expect(started).toEqual([1, 2, 3]);
    await finish(1);
    await finish(3);
    await queue.onIdle();
    expect(queue.size).toBe(0);
  });

  test('the number of engines is the concurrency: 0 holds every job (not a pause), workers that come and go change it', async () => {
    const { queue, started, finish } = harness({ concurrency: 0, maxLength: 10, userMaxPending: 5 });
    for (const [id, userId] of [[1, 'a'], [2, 'b'], [3, 'c'], [4, 'a']] as const) queue.enqueue({ id, userId });
    await tick();
    expect(started).toEqual([]);
    expect([queue.waitingForEngine, queue.paused]).toEqual([true, false]);
    expect(queue.position(1)).toBe(1);

    queue.setConcurrency(2); // two workers connect
    await tick();
    expect(started).toEqual([1, 2]);
    expect(queue.waitingForEngine).toBe(false);

    queue.setConcurrency(1); // one goes away: running jobs go on, but only one runs from now on
    await finish(1);
    expect(started).toEqual([1, 2]);
    await finish(2);
    expect(started).toEqual([1, 2, 3]);
    queue.pause();
    queue.setConcurrency(0);
    queue.setConcurrency(3); // an admin pause outlasts workers coming back
    await finish(3);
    expect(started).toEqual([1, 2, 3]);
    queue.resume();
    await tick();
    expect(started).toEqual([1, 2, 3, 4]);
    await finish(4);
    await queue.onIdle();
  });
});
