/** Helpers for the worker and CLI tests. */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ImagineParams } from '../src/engine/jobs.js';
import { repoRoot } from './helpers.js';

export const engineHandlersUrl = pathToFileURL(join(repoRoot, 'src', 'engine', 'handlers.ts'));
export const fixtureHandlersUrl = pathToFileURL(join(repoRoot, 'test', 'worker-fixture-handlers.ts'));

/** A job small enough for the bundled model to run in well under a second. */
export function smallParams(overrides: Partial<ImagineParams> = {}): ImagineParams {
  return { prompt: 'a red fox in the snow', negativePrompt: '', seed: '42', steps: 4, guidance: 7.5, width: 64, height: 64, ...overrides };
}

/** Width and height from a PNG's IHDR chunk; throws when the bytes are not a PNG. */
export function pngSize(png: Uint8Array): { width: number; height: number } {
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const bytes = Buffer.from(png.buffer, png.byteOffset, png.byteLength);
  if (!bytes.subarray(0, 8).equals(signature) || bytes.toString('latin1', 12, 16) !== 'IHDR') throw new Error('not a PNG');
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
}
