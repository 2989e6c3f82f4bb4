/** The Delete button under a result: removes the message; only the job's author or an admin may. */
import { pressedJob } from '../src/bot/command-kit.js';
import type { BotModule } from '../src/bot/router.js';

const remove: BotModule = {
  buttons: {
    actions: ['delete'],
    async execute(ix, target, ctx) {
      await ix.defer({ ephemeral: true });
      const job = pressedJob(ctx, ix, target); // the author or an admin (see its descriptor in src/bot/actions.ts)
      await ctx.sink.delete(ix.message);
      ctx.store.markDeleted(job.id);
      await ix.editReply({ content: `Deleted the image of job #${job.id}.`, ephemeral: true });
    },
  },
};

export default remove;
