/**
 * Files the CLI writes (--out, --save-latents, --attention-out, --source-out): checked when the command line is
 * parsed, before any model is loaded, and written whole or not at all (a temporary file beside the target,
 * renamed over it), so a full disk or a killed process never leaves a truncated image.
 */
import { closeSync, mkdirSync, openSync, renameSync, rmSync, statSync, writeSync, type Stats } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { InvalidArgumentError } from 'commander';
import { errorMessage, UserError } from '../engine/errors.js';

/**
 * Option parser: the path must be a regular file or not exist yet, and its folder (or the nearest existing
 * folder above it, which writing creates the rest of) must accept new files. Returns the path as given.
 */
export function outputFile(text: string): string {
  if (text.trim() === '') throw new InvalidArgumentError('Expected a file name.');
  if (text.includes('\0')) throw new InvalidArgumentError('A file name cannot contain a NUL character.');
  const path = resolve(text);
  const target = statOrUndefined(path);
  if (target?.isDirectory()) throw new InvalidArgumentError('It is a folder; give a file name.');
  if (target && !target.isFile()) throw new InvalidArgumentError('It is not a regular file (a device or a pipe).');
  let folder = dirname(path);
  let stats = statOrUndefined(folder);
  while (!stats) {
    folder = dirname(folder);
    stats = statOrUndefined(folder);
  }
  if (!stats.isDirectory()) throw new InvalidArgumentError(`${folder} is not a folder.`);
  const problem = probeWritable(folder);
  if (problem) throw new InvalidArgumentError(`Cannot create files in ${folder} (${problem}).`);
  return text;
}

/** Writes the bytes to a temporary file beside `path`, then renames it over `path` (creating missing folders). */
export function writeOutputFile(path: string, bytes: Uint8Array): void {
  const target = resolve(path);
  const temporary = join(dirname(target), `.${basename(target)}.${process.pid}.tmp`);
  let created = false;
  try {
    mkdirSync(dirname(target), { recursive: true });
    const fd = openSync(temporary, 'wx');
    created = true;
    try {
      for (let written = 0; written < bytes.byteLength; ) written += writeSync(fd, bytes, written);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, target);
  } catch (error) {
    // Only a temporary file this call created is removed (the failure may be that the name was taken).
    if (created) rmSync(temporary, { force: true });
    throw new UserError('internal', `Could not write ${path}: ${errorMessage(error)}`);
  }
}

function statOrUndefined(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

/** Creates and removes a file in the folder: the only test that holds for read-only mounts, /proc and root. */
function probeWritable(folder: string): string | undefined {
  const probe = join(folder, `.reprompt-write-test.${process.pid}`);
  try {
    closeSync(openSync(probe, 'wx'));
    rmSync(probe, { force: true });
    return undefined;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code ?? errorMessage(error);
  }
}
