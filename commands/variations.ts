/**
 * The buttons under a result that make a new job from it: guidance variations (same seed), reroll (new seed),
 * stronger/weaker edit (same source, other cross window) and attention heat maps.
 */
import { UserError } from '../src/engine/errors.js';
import { acceptJob, findJob, requireImage } from '../src/bot/command-kit.js';
import type { BotModule } from '../src/bot/router.js';
import { variationFor } from '../src/bot/variations.js';

const variations: BotModule = {
  buttons: {
    actions: ['cfg-lower', 'cfg-higher', 'cfg-negative', 'reroll', 'edit-stronger', 'edit-weaker', 'attention'],
    async execute(ix, { action, jobId }, ctx) {
      await ix.defer({ ephemeral: true });
      const job = requireImage(findJob(ctx, ix, jobId));
      const variation = variationFor(action, job, ctx.limits);
      if (!variation) throw new UserError('bad_input', `That variation does not apply to job #${job.id} any more.`);
      await acceptJob(ix, ctx, { request: variation.request, origin: variation.origin, parentId: job.id });
    },
  },
};

export default variations;
