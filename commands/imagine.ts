/**
 * `/imagine prompt [negative] [seed] [steps] [cfg] [width] [height] [sampler] [count]`: draw an image, or 2–4
 * candidates (seeds seed, seed+1, …) as one grid.
 */
import { SlashCommandBuilder } from 'discord.js';
import { SAMPLER_NAMES } from '../src/engine/schedulers/scheduler.js';
import { GRID_COUNT_RANGE } from '../src/engine/grid.js';
import { acceptJob } from '../src/bot/command-kit.js';
import { countFrom, imagineRequest } from '../src/bot/grid.js';
import type { BotModule } from '../src/bot/router.js';
import { imagineParamsFrom, MAX_TEXT } from '../src/bot/validate.js';

// Ranges here are only Discord's client-side guard; the real limits (model, MAX_STEPS, MAX_SIZE) are checked at run time.
const data = new SlashCommandBuilder()
  .setName('imagine')
  .setDescription('Draw an image from a text prompt')
  .addStringOption((o) => o.setName('prompt').setDescription('What to draw').setRequired(true).setMaxLength(MAX_TEXT))
  .addStringOption((o) => o.setName('negative').setDescription('What to keep out of the image').setMaxLength(MAX_TEXT))
  .addStringOption((o) => o.setName('seed').setDescription('Whole number from 0 to 18446744073709551615; random if empty').setMaxLength(20))
  .addIntegerOption((o) => o.setName('steps').setDescription('Denoising steps (more = slower, finer)').setMinValue(1).setMaxValue(1000))
  .addNumberOption((o) => o.setName('cfg').setDescription('Guidance scale: how strictly to follow the prompt (negative = away from it)').setMinValue(-100).setMaxValue(100))
  .addIntegerOption((o) => o.setName('width').setDescription('Width in pixels (a multiple of 8)').setMinValue(64).setMaxValue(4096))
  .addIntegerOption((o) => o.setName('height').setDescription('Height in pixels (a multiple of 8)').setMinValue(64).setMaxValue(4096))
  .addStringOption((o) =>
    o
      .setName('sampler')
      .setDescription("Sampler; the model's own if empty")
      .addChoices(...SAMPLER_NAMES.map((name) => ({ name, value: name }))),
  )
  .addIntegerOption((o) =>
    o.setName('count').setDescription('Candidates (seeds seed, seed+1, …): 2–4 are posted as one grid').setMinValue(GRID_COUNT_RANGE.min).setMaxValue(GRID_COUNT_RANGE.max),
  );

const imagine: BotModule = {
  slash: {
    data,
    async execute(ix, ctx) {
      await ix.defer({ ephemeral: true });
      const params = imagineParamsFrom(ix.options, ctx.limits, ctx.defaults);
      const count = countFrom(ix.options.count, ctx.defaults.count);
      await acceptJob(ix, ctx, { request: imagineRequest(params, count), origin: 'imagine', parentId: null });
    },
  },
};

export default imagine;
