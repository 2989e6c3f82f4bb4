/**
 * Button and modal ids: `action:jobId`, nothing else. Everything a press needs is read back from the store by job
 * id, so buttons keep working after a restart and ids stay far below Discord's 100 characters. The button actions
 * are those of ./actions.ts; the edit dialog's submit is the one modal.
 */
import { BUTTON_ACTIONS, type ButtonAction } from './actions.js';

/** The edit dialog's submit. */
export const MODAL_ACTION = 'edit-modal';

/** The dialog asking for the description of a user's picture (its id carries a PhotoDialogs number, not a job). */
export const PHOTO_MODAL_ACTION = 'photo-modal';

export type Action = ButtonAction | typeof MODAL_ACTION | typeof PHOTO_MODAL_ACTION;

export const customId = (action: Action, jobId: number): string => `${action}:${jobId}`;

// Checked at call time (not module load), so ./actions.ts may import customId.
const isAction = (text: string): text is Action => text === MODAL_ACTION || text === PHOTO_MODAL_ACTION || (BUTTON_ACTIONS as readonly string[]).includes(text);

export function parseCustomId(id: string): { action: Action; jobId: number } | undefined {
  const match = /^([a-z-]+):(\d{1,15})$/.exec(id);
  if (!match || !isAction(match[1])) return undefined;
  return { action: match[1], jobId: Number(match[2]) };
}
