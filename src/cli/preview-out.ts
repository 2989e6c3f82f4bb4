/**
 * `--preview-out F` of imagine and edit: the live preview (see src/engine/preview.ts) written to F each time the
 * engine sends one, replacing the previous one, so an image viewer that reloads F shows the picture forming.
 * WebP unless F ends in .jpg/.jpeg.
 */
import type { StepProgress } from '../engine/jobs.js';
import type { PreviewOptions } from '../engine/preview.js';
import { outputFile, writeOutputFile } from './output-file.js';

/** Previews per run at most (the terminal is not rate-limited like Discord; the bar shows every step). */
const PREVIEWS = 10;

export const previewOption = ['--preview-out <file.webp>', 'write the picture as it forms to this file (replaced as it goes; .jpg for JPEG)', outputFile] as const;

/** What to ask the engine for when `--preview-out` is given. */
export function previewRequest(path: string | undefined): { preview?: PreviewOptions } {
  if (path === undefined) return {};
  return { preview: { count: PREVIEWS, format: /\.jpe?g$/i.test(path) ? 'jpeg' : 'webp' } };
}

/** Writes a progress report's preview, if it has one, whole (through a temporary file and a rename). */
export function writePreview(path: string | undefined, progress: StepProgress): void {
  if (path === undefined || !progress.preview) return;
  writeOutputFile(path, progress.preview.data);
}
