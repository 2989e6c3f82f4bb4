import { describe, expect, test } from '@jest/globals';
import { bob, eventually, interaction, press, RecordingSink, slash, testBot, testSettings } from './bot-fakes.js';

const draw = (prompt: string, steps = 2) => ({ prompt, seed: '3', steps, width: 64, height: 64 });

describe('after a restart (a new store and router on the same database file)', () => {
  test('buttons, the edit dialog and /edit keep working on old messages', async () => {
    const settings = testSettings();
    const sink = new RecordingSink();
    const before = testBot({ settings, sink });
    await before.router.handle(slash('imagine', draw('a red fox')));
    await before.jobs.idle();
    const ref = sink.messageOfJob(1).ref;
    await before.close();

    const after = testBot({ settings, sink });
    const ix = press('cfg-higher:1', ref);
    await after.router.handle(ix);
    expect(ix.lastText).toMatch(/^Queued as job #2/);
    const open = press('edit:1', ref);
    await after.router.handle(open);
    expect(open.calls[0].modal!.customId).toBe('edit-modal:1');
    await after.router.handle(interaction<'modal'>({ kind: 'modal', customId: 'edit-modal:1', fields: { edit: 'fox→cat', cross: '', self: '', blend: '' } }));
    await after.jobs.idle();
    expect(after.store.get(2)).toMatchObject({ parentId: 1, origin: 'cfg-higher', status: 'done' });
    expect(after.store.get(3)).toMatchObject({ parentId: 1, origin: 'edit', status: 'done' });
    await after.close();
  });

  test('queued and running jobs are resumed in their order and delivered into their original messages', async () => {
    const settings = testSettings();
    const sink = new RecordingSink();
    const before = testBot({ settings, sink });
    before.backend.hold(2);
    await before.router.handle(slash('imagine', draw('first')));
    await before.router.handle(slash('imagine', draw('second')));
    await before.router.handle(slash('imagine', draw('third'), { user: bob }));
    await eventually(() => /step 1\/2/.test(sink.messageOfJob(1).message.content), 'job 1 to be running');
    const messages = [1, 2, 3].map((id) => before.store.get(id)!.messageId);
    // The process dies: job 1 is mid-run, jobs 2 and 3 wait. Nothing more happens in it.
    await before.close();

    const after = testBot({ settings, sink });
    expect(await after.jobs.resumeUnfinished()).toEqual({ resumed: 3, failed: 0 });
    await after.jobs.idle();
    expect(after.backend.started.map((j) => (j.kind === 'imagine' ? j.params.prompt : ''))).toEqual(['first', 'third', 'second']);
    for (const [i, id] of [1, 2, 3].entries()) {
      const job = after.store.get(id)!;
      expect(job.status).toBe('done');
      expect(job.messageId).toBe(messages[i]);
      expect(sink.messageOfJob(id).message.attachments).toHaveLength(1);
    }
    await after.close();
  });

  test('a resumed job that the new limits no longer allow fails with the reason in its channel', async () => {
    const settings = testSettings();
    const sink = new RecordingSink();
    const before = testBot({ settings, sink });
    await before.router.handle(slash('queue', {}, { isAdmin: true }, 'pause'));
    await before.router.handle(slash('imagine', draw('long', 20)));
    await before.router.handle(slash('imagine', draw('short', 2)));
    await before.close();

    const after = testBot({ settings: { ...settings, maxSteps: 10 }, sink });
    expect(await after.jobs.resumeUnfinished()).toEqual({ resumed: 1, failed: 1 });
    await after.jobs.idle();
    expect(after.store.get(1)).toMatchObject({ status: 'failed', error: { code: 'bad_input' } });
    expect(sink.messageOfJob(1).message.content).toContain('failed: steps 20 is not allowed: use a whole number from 1 to 10.');
    expect(after.store.get(2)!.status).toBe('done');
    await after.close();
  });
});
