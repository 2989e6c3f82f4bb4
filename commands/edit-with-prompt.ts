/**
 * The edit dialog: the message context-menu command "Edit with prompt" and the Edit button under a result both
 * open a modal (it must be their first answer); its submit queues the edit.
 */
import { ApplicationCommandType, ContextMenuCommandBuilder } from 'discord.js';
import { UserError } from '../src/engine/errors.js';
import { acceptEdit, findJob, pressedJob, requireImage } from '../src/bot/command-kit.js';
import { customId, MODAL_ACTION, PHOTO_MODAL_ACTION } from '../src/bot/custom-id.js';
import { DEFAULT_CROSS } from '../src/bot/edits.js';
import type { JobRecord } from '../src/bot/job.js';
import type { Modal, ModalField } from '../src/bot/port/index.js';
import { isPicture } from '../src/bot/photos.js';
import type { EditParams } from '../src/p2p/jobs.js';
import type { BotModule } from '../src/bot/router.js';
import { editSettingsFrom, MAX_TEXT, requiredEditText, windowEnd } from '../src/bot/validate.js';

const EDIT_WITH_PROMPT = 'Edit with prompt';

/** The dialog for editing job `job`'s image; an edit's current windows are pre-filled. */
export function editModal(job: JobRecord): Modal {
  return { customId: customId(MODAL_ACTION, job.id), title: `Edit image #${job.id}`, fields: editModalFields(job.request.kind === 'edit' ? job.request.params : undefined) };
}

/** The change, the two windows (pre-filled from `current`) and the blend words. */
function editModalFields(current?: EditParams): ModalField[] {
  return [
    { id: 'edit', label: 'Change', style: 'short', required: true, placeholder: 'cat→dog  (or a whole new prompt)', maxLength: MAX_TEXT },
    {
      id: 'cross',
      label: 'Cross window (0–1, smaller = stronger)',
      style: 'short',
      required: false,
      placeholder: String(DEFAULT_CROSS),
      ...(current?.cross !== undefined ? { value: String(windowEnd(current.cross)) } : {}),
    },
    {
      id: 'self',
      label: 'Self window (0–1, larger = same layout)',
      style: 'short',
      required: false,
      placeholder: '0.4',
      ...(current?.self !== undefined ? { value: String(windowEnd(current.self)) } : {}),
    },
    { id: 'blend', label: 'Only change these words (optional)', style: 'short', required: false, placeholder: 'cat, dog', maxLength: 200 },
  ];
}

/** The dialog for editing a user's picture: what it shows (the source prompt) and the change. */
export function photoModal(dialog: number, name: string): Modal {
  const fields = editModalFields();
  return {
    customId: customId(PHOTO_MODAL_ACTION, dialog),
    title: `Edit ${name}`.slice(0, 45),
    fields: [
      { id: 'description', label: 'What the picture shows', style: 'short', required: true, placeholder: 'a house on a hill at sunset', maxLength: MAX_TEXT },
      ...fields,
    ],
  };
}

const editWithPrompt: BotModule = {
  menu: {
    data: new ContextMenuCommandBuilder().setName(EDIT_WITH_PROMPT).setType(ApplicationCommandType.Message),
    async execute(ix, ctx) {
      const job = ctx.store.byMessage(ix.target.messageId);
      if (job && job.guildId === ix.guildId) return ix.showModal(editModal(requireImage(job)));
      // Any message with a picture: the dialog also asks what the picture shows.
      const picture = ix.targetAttachments?.find(isPicture);
      if (!picture) throw new UserError('not_found', 'That message is not one of my images and has no picture attached.');
      await ix.showModal(photoModal(ctx.photoDialogs.open(picture), picture.name));
    },
  },
  buttons: {
    actions: ['edit'],
    async execute(ix, target, ctx) {
      await ix.showModal(editModal(requireImage(pressedJob(ctx, ix, target))));
    },
  },
  modal: {
    action: MODAL_ACTION,
    async execute(ix, jobId, ctx) {
      await ix.defer({ ephemeral: true });
      const text = requiredEditText(ix.fields);
      const settings = editSettingsFrom(ix.fields, ctx.limits);
      await acceptEdit(ix, ctx, findJob(ctx, ix, jobId), text, settings);
    },
  },
};

export default editWithPrompt;
