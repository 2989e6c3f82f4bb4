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

export function toErrorValue(e: unknown): ErrorValue {
  if (isUserError(e)) return { code: e.code, message: e.message };
  const message = e instanceof Error ? e.message : String(e);
  return { code: 'internal', message };
}

export function fromErrorValue(v: ErrorValue): UserError {
  return new UserError(v.code, v.message);
}

export type Result<T> = { ok: true; value: T } | { ok: false; error: ErrorValue };
export const ok = <T>(value: T): Result<T> => ({ ok: true, value });
export const err = <T = never>(code: ErrorCode, message: string): Result<T> => ({ ok: false, error: { code, message } });
