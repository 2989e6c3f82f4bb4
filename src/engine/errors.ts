/**
 * Errors are values with a message meant for the person who caused them (a Discord user, a CLI user, an
 * operator). `code` is stable and machine-readable; `message` is one or two plain sentences, no stack trace.
 */
export type ErrorCode =
  | 'bad_input' // a parameter or prompt the user gave is wrong
  | 'bad_prompt' // prompt / edit syntax, unknown word, too many tokens
  | 'model' // a model folder that is missing, broken or unsupported
  | 'provider' // an execution provider that cannot be loaded
  | 'cancelled' // the job was cancelled between steps
  | 'busy' // queue full, per-user cap
  | 'not_found' // an image / job id that does not exist
  | 'forbidden' // not allowed (delete someone else's image)
  | 'unavailable' // a service the program needs (Discord) cannot be reached
  | 'internal'; // a bug: logged in full, shown to users as a short apology

export class UserError extends Error {
  override readonly name = 'UserError';
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export const isUserError = (e: unknown): e is UserError =>
  e instanceof UserError || (typeof e === 'object' && e !== null && (e as { name?: unknown }).name === 'UserError');

/** A plain-data form of an error that survives postMessage / JSON. */
export interface ErrorValue {
  code: ErrorCode;
  message: string;
}

/** The message of anything thrown (an Error's message, otherwise the value as text). */
export const errorMessage = (e: unknown): string => (e instanceof Error ? e.message : String(e));

export function toErrorValue(e: unknown): ErrorValue {
  if (isUserError(e)) return { code: e.code, message: e.message };
  return { code: 'internal', message: errorMessage(e) };
}

export function fromErrorValue(v: ErrorValue): UserError {
  return new UserError(v.code, v.message);
}
