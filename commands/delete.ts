/** The Delete button under a result: removes the message; only the job's author or an admin may. */
import { UserError } from '../src/engine/errors.js';
import { findJob } from '../src/bot/command-kit.js';
import type { BotModule } from '../src/bot/router.js';

const remove: BotModule = {
  buttons: {
    actions: ['delete'],
    async execute(ix, { jobId }, ctx) {
      await ix.defer({ ephemeral: true });
      const job = findJob(ctx, ix, jobId);
      if (job.userId !== ix.user.id && !ix.isAdmin) throw new UserError('forbidden', `Only the author of job #${job.id} or an admin can delete it.`);
      await ctx.sink.delete(ix.message);
      ctx.store.markDeleted(job.id);
      await ix.editReply({ content: `Deleted the image of job #${job.id}.`, ephemeral: true });
    },
  },
};

export default remove;
