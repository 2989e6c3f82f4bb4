/** A small logger for the bot: one line per event, secrets redacted, full details only for internal errors. */
import { isUserError } from '../engine/errors.js';

export interface Logger {
  info(message: string): void;
  warn(message: string, error?: unknown): void;
  error(message: string, error?: unknown): void;
}

/** Writes to stderr (stdout belongs to the console driver's transcript) through `redact`. */
export function createLogger(
  redact: (text: string) => string = (t) => t,
  write: (line: string) => void = (line) => void process.stderr.write(`${line}\n`),
): Logger {
  const emit = (level: string, message: string, error?: unknown): void => {
    const detail = error === undefined ? '' : `: ${describeError(error)}`;
    write(redact(`${new Date().toISOString()} ${level} ${message}${detail}`));
  };
  return {
    info: (m) => emit('info', m),
    warn: (m, e) => emit('warn', m, e),
    error: (m, e) => emit('error', m, e),
  };
}

/** A logger that drops everything (tests). */
export const silentLogger: Logger = { info() {}, warn() {}, error() {} };

/** User errors are expected and get one line; anything else is a bug and keeps its stack. */
function describeError(error: unknown): string {
  if (isUserError(error)) return `${error.code}: ${error.message}`;
  if (error instanceof Error) return error.stack ?? `${error.name}: ${error.message}`;
  return String(error);
}
