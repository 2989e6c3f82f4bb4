/**
 * The submit of the picture dialog that "Edit with prompt" opens on a message with a user's picture (see
 * ./edit-with-prompt.ts): the description and the change are checked, then the picture is taken in and edited.
 */
import { acceptPhotoEdit } from '../src/bot/command-kit.js';
import { PHOTO_MODAL_ACTION } from '../src/bot/custom-id.js';
import type { BotModule } from '../src/bot/router.js';
import { editSettingsFrom, requiredEditText } from '../src/bot/validate.js';

const photoDialog: BotModule = {
  modal: {
    action: PHOTO_MODAL_ACTION,
    async execute(ix, dialog, ctx) {
      await ix.defer({ ephemeral: true });
      const picture = ctx.photoDialogs.take(dialog);
      const text = requiredEditText(ix.fields);
      const settings = editSettingsFrom(ix.fields, ctx.limits);
      await acceptPhotoEdit(ix, ctx, picture, ix.fields.description, text, settings);
    },
  },
};

export default photoDialog;
