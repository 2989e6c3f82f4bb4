/**
 * The buttons under a result that make a new job from it (every descriptor of src/bot/actions.ts with `makes`):
 * guidance variations (same seed), reroll (new seed), stronger/weaker edit (same source, other cross window),
 * attention heat maps, Vary (Subtle / Strong) and Upscale ×2.
 */
import { UserError } from '../src/engine/errors.js';
import { actionSpec, isJobAction, JOB_ACTIONS, variationFor } from '../src/bot/actions.js';
import { acceptJob, pressedJob, requireImage } from '../src/bot/command-kit.js';
import type { BotModule } from '../src/bot/router.js';
import { requireStoredImage } from '../src/bot/service.js';

const variations: BotModule = {
  buttons: {
    actions: JOB_ACTIONS,
    async execute(ix, target, ctx) {
      await ix.defer({ ephemeral: true });
      const job = requireImage(pressedJob(ctx, ix, target));
      const variation = isJobAction(target.action) ? variationFor(target.action, job, ctx.limits) : undefined;
      if (!variation) {
        const why = isJobAction(target.action) ? actionSpec(target.action).refusal?.(job, ctx.limits) : undefined;
        throw new UserError('bad_input', why ?? `That variation does not apply to job #${job.id} any more.`);
      }
      // Vary and Upscale start from the stored image: one the bot does not have is answered now, not queued.
      if (variation.request.kind === 'img2img') requireStoredImage(ctx.store, variation.request.sourceJobId);
      await acceptJob(ix, ctx, { request: variation.request, origin: variation.origin, parentId: job.id });
    },
  },
};

export default variations;
