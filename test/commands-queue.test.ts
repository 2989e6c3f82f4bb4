import { describe, expect, test } from '@jest/globals';
import { alice, bob, carol, eventually, press, slash, testBot, testSettings } from './bot-fakes.js';

const draw = (prompt: string) => ({ prompt, seed: '1', steps: 2, width: 64, height: 64 });

/** The status line the channel shows for job `id` right now. */
const statusOf = (bot: ReturnType<typeof testBot>, id: number) => bot.sink.messageOfJob(id).message.content;

describe('queue through the commands', () => {
  test('positions are fair across users, shown on each status message, and kept current', async () => {
    const bot = testBot();
    bot.backend.hold();
    await bot.router.handle(slash('imagine', draw('a1')));
    await eventually(() => bot.backend.started.length === 1, 'job 1 to start');
    const second = slash('imagine', draw('a2'));
    await bot.router.handle(second);
    expect(second.lastText).toMatch(/^Queued as job #2 \(position 1 in the queue\)/);
    await bot.router.handle(slash('imagine', draw('a3')));
    const bobs = slash('imagine', draw('b1'), { user: bob });
    await bot.router.handle(bobs);
    // bob jumps ahead of alice's waiting jobs: she is already being served.
    expect(bobs.lastText).toMatch(/^Queued as job #4 \(position 1 in the queue\)/);
    await bot.router.handle(slash('imagine', draw('c1'), { user: carol }));
    await eventually(() => /position 4/.test(statusOf(bot, 3)), 'positions to be redrawn');
    expect(statusOf(bot, 2)).toMatch(/job #2 · queued — position 3$/);
    expect(statusOf(bot, 3)).toMatch(/job #3 · queued — position 4$/);
    expect(statusOf(bot, 4)).toMatch(/job #4 · queued — position 1$/);
    expect(statusOf(bot, 5)).toMatch(/job #5 · queued — position 2$/);

    const show = slash('queue', {}, { user: carol }, 'show');
    await bot.router.handle(show);
    expect(show.lastText.split('\n')).toEqual([
      '**Queue**: 1 running, 4 waiting · model fake on cpu.',
      `▶ #1 <@${alice.id}> “a1”`,
      `1. #4 <@${bob.id}> “b1”`,
      `2. #5 <@${carol.id}> “c1”`,
      `3. #2 <@${alice.id}> “a2”`,
      `4. #3 <@${alice.id}> “a3”`,
    ]);
    const fromElsewhere = slash('queue', {}, { guildId: 'g2' }, 'show');
    await bot.router.handle(fromElsewhere);
    expect(fromElsewhere.lastText).toContain('1. #4 (another server)');

    bot.backend.release();
    await bot.jobs.idle();
    const prompts = bot.backend.started.map((j) => (j.kind === 'imagine' ? j.params.prompt : ''));
    expect(prompts).toEqual(['a1', 'b1', 'c1', 'a2', 'a3']);
  });

  test('the per-user cap counts queued and running jobs', async () => {
    const bot = testBot({ settings: testSettings({ queue: { maxLength: 10, userMaxPending: 2 } }) });
    bot.backend.hold();
    await bot.router.handle(slash('imagine', draw('1')));
    await bot.router.handle(slash('imagine', draw('2')));
    const third = slash('imagine', draw('3'));
    await bot.router.handle(third);
    expect(third.lastText).toBe('⚠️ You already have 2 jobs queued or running (the limit is 2). Wait for one to finish, or cancel one with /queue cancel.');
    const others = slash('imagine', draw('b'), { user: bob });
    await bot.router.handle(others);
    expect(others.lastText).toMatch(/^Queued as job #3/);
    bot.backend.release();
    await bot.jobs.idle();
  });

  test('a full queue refuses new jobs', async () => {
    const bot = testBot({ settings: testSettings({ queue: { maxLength: 1, userMaxPending: 5 } }) });
    bot.backend.hold();
    await bot.router.handle(slash('imagine', draw('1')));
    await eventually(() => bot.backend.started.length === 1, 'job 1 to start');
    await bot.router.handle(slash('imagine', draw('2'), { user: bob }));
    const third = slash('imagine', draw('3'), { user: carol });
    await bot.router.handle(third);
    expect(third.lastText).toBe('⚠️ The queue is full (1 jobs waiting). Try again in a few minutes.');
    bot.backend.release();
    await bot.jobs.idle();
  });

  test('cancel: owners cancel their waiting or running jobs, others are refused, admins may cancel any', async () => {
    const bot = testBot();
    bot.backend.hold();
    await bot.router.handle(slash('imagine', draw('running')));
    await bot.router.handle(slash('imagine', draw('waiting')));
    await bot.router.handle(slash('imagine', draw('bobs'), { user: bob }));
    await eventually(() => bot.backend.started.length === 1, 'job 1 to start');

    const refused = press('cancel:2', bot.sink.messageOfJob(2).ref, { user: bob });
    await bot.router.handle(refused);
    expect(refused.lastText).toBe('⚠️ Only the author of job #2 or an admin can cancel it.');

    const own = slash('queue', { job: 2 }, {}, 'cancel');
    await bot.router.handle(own);
    expect(own.lastText).toBe('Cancelled job #2.');
    await eventually(() => /job #2 · cancelled$/.test(statusOf(bot, 2)), 'job 2 to show cancelled');
    expect(bot.sink.messageOfJob(2).message.rows).toBeUndefined();

    const running = press('cancel:1', bot.sink.messageOfJob(1).ref);
    await bot.router.handle(running);
    expect(running.lastText).toBe('Stopping job #1 after its current step.');
    bot.backend.hold(); // keep bob's job waiting
    await eventually(() => bot.store.get(1)!.status === 'cancelled', 'job 1 to stop');

    const admin = slash('queue', { job: 3 }, { user: carol, isAdmin: true }, 'cancel');
    await bot.router.handle(admin);
    expect(admin.lastText).toBe('Cancelled job #3.');
    bot.backend.release();
    await bot.jobs.idle();
    expect([1, 2, 3].map((id) => bot.store.get(id)!.status)).toEqual(['cancelled', 'cancelled', 'cancelled']);
    expect(bot.backend.started.map((j) => (j.kind === 'imagine' ? j.params.prompt : ''))).toEqual(['running']);

    const finished = slash('queue', { job: 1 }, {}, 'cancel');
    await bot.router.handle(finished);
    expect(finished.lastText).toBe('⚠️ Job #1 was already cancelled.');
    const nothing = slash('queue', {}, {}, 'cancel');
    await bot.router.handle(nothing);
    expect(nothing.lastText).toBe('⚠️ You have no job queued or running.');
  });

  test('/queue cancel without a job number cancels your newest queued job', async () => {
    const bot = testBot();
    bot.backend.hold();
    await bot.router.handle(slash('imagine', draw('1')));
    await bot.router.handle(slash('imagine', draw('2')));
    await bot.router.handle(slash('queue', {}, {}, 'cancel'));
    expect(bot.store.get(2)!.status).toBe('cancelled');
    bot.backend.release();
    await bot.jobs.idle();
    expect(bot.store.get(1)!.status).toBe('done');
  });

  test('pause and resume are for admins; a paused queue says so on waiting jobs', async () => {
    const bot = testBot();
    const denied = slash('queue', {}, {}, 'pause');
    await bot.router.handle(denied);
    expect(denied.lastText).toBe('⚠️ Only admins can pause the queue.');

    await bot.router.handle(slash('queue', {}, { isAdmin: true }, 'pause'));
    await bot.router.handle(slash('imagine', draw('x')));
    await eventually(() => /position 1 \(the queue is paused by an admin\)$/.test(statusOf(bot, 1)), 'paused status');
    expect(bot.backend.started).toEqual([]);
    const show = slash('queue', {}, {}, 'show');
    await bot.router.handle(show);
    expect(show.lastText).toMatch(/^\*\*Queue\*\* \(paused by an admin\): 0 running, 1 waiting · model fake on cpu\./);

    await bot.router.handle(slash('queue', {}, { isAdmin: true }, 'resume'));
    await bot.jobs.idle();
    expect(bot.store.get(1)!.status).toBe('done');
  });
});
