/**
 * `/edit edit:"cat→dog" [image] [cross] [self] [blend] [cfg]`: a Prompt-to-Prompt edit of one of the bot's images;
 * with `photo:` (an attached picture) and `description:` (what it shows), an edit of the user's own picture.
 */
import { SlashCommandBuilder } from 'discord.js';
import { acceptEdit, acceptPhotoEdit, resolveImage } from '../src/bot/command-kit.js';
import { UserError } from '../src/engine/errors.js';
import type { BotModule } from '../src/bot/router.js';
import { editSettingsFrom, MAX_TEXT, requiredEditText } from '../src/bot/validate.js';

const data = new SlashCommandBuilder()
  .setName('edit')
  .setDescription('Edit one of my images by changing its prompt (Prompt-to-Prompt)')
  .addStringOption((o) => o.setName('edit').setDescription('The change, e.g. cat→dog, or a whole new prompt').setRequired(true).setMaxLength(MAX_TEXT))
  .addStringOption((o) => o.setName('image').setDescription('Message link or job number; your latest image here if empty').setMaxLength(200))
  .addNumberOption((o) => o.setName('cross').setDescription('Cross-attention window, 0–1 (default 0.8; smaller = stronger edit)').setMinValue(0.01).setMaxValue(1))
  .addNumberOption((o) => o.setName('self').setDescription('Self-attention window, 0–1 (default 0.4; larger = keeps more layout)').setMinValue(0.01).setMaxValue(1))
  .addStringOption((o) => o.setName('blend').setDescription('Only these words may change, e.g. "cat, dog" (local blending)').setMaxLength(200))
  .addNumberOption((o) => o.setName('cfg').setDescription("Guidance of the edited image (default: the source's)").setMinValue(-100).setMaxValue(100))
  .addAttachmentOption((o) => o.setName('photo').setDescription('Edit your own picture instead (PNG, JPEG, WebP); describe it in description'))
  .addStringOption((o) => o.setName('description').setDescription('With photo: what the picture shows, e.g. "a house on a hill"').setMaxLength(MAX_TEXT));

const edit: BotModule = {
  slash: {
    data,
    async execute(ix, ctx) {
      await ix.defer({ ephemeral: true });
      const text = requiredEditText(ix.options);
      const settings = editSettingsFrom(ix.options, ctx.limits);
      const photo = ix.attachments?.photo;
      const description = ix.options.description;
      if (photo) {
        if (ix.options.image !== undefined) throw new UserError('bad_input', 'Give either photo (your picture) or image (one of mine), not both.');
        await acceptPhotoEdit(ix, ctx, photo, typeof description === 'string' ? description : undefined, text, settings);
        return;
      }
      if (description !== undefined) throw new UserError('bad_input', 'description describes an attached picture: attach it in photo, or leave description out.');
      const image = ix.options.image;
      const source = resolveImage(ctx, ix, typeof image === 'string' ? image : undefined);
      await acceptEdit(ix, ctx, source, text, settings);
    },
  },
};

export default edit;
