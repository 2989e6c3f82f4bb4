/**
 * Button and modal ids: `action:jobId`, nothing else. Everything a press needs is read back from the store by job
 * id, so buttons keep working after a restart and ids stay far below Discord's 100 characters.
 */

export const ACTIONS = [
  'cancel',
  'cfg-lower',
  'cfg-higher',
  'cfg-negative',
  'reroll',
  'edit',
  'edit-stronger',
  'edit-weaker',
  'attention',
  'delete',
  /** The edit dialog's submit. */
  'edit-modal',
] as const;
export type Action = (typeof ACTIONS)[number];

export const customId = (action: Action, jobId: number): string => `${action}:${jobId}`;

export function parseCustomId(id: string): { action: Action; jobId: number } | undefined {
  const match = /^([a-z-]+):(\d{1,15})$/.exec(id);
  if (!match || !(ACTIONS as readonly string[]).includes(match[1])) return undefined;
  return { action: match[1] as Action, jobId: Number(match[2]) };
}
