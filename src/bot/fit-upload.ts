/**
 * Keeps images under the upload limit (default 10 MiB per file): a PNG that is too large is re-encoded as
 * high-quality WebP or JPEG, then downscaled step by step. The user is always told what happened; an image that
 * cannot be made small enough is reported, never dropped silently.
 */
import sharp from 'sharp';
import type { Attachment } from './port/index.js';

export interface FittedUpload {
  /** Absent when the image could not be made small enough. */
  attachment?: Attachment;
  /** What was done to it, for the message (undefined when it was sent as is). */
  note?: string;
}

const QUALITY = 90;
const SHRINK = 0.75;
const MIN_SIDE = 64;

export async function fitUpload(baseName: string, png: Uint8Array, limitBytes: number, description?: string): Promise<FittedUpload> {
  const attach = (data: Uint8Array, ext: string): Attachment => ({ name: `${baseName}.${ext}`, data, ...(description ? { description } : {}) });
  if (png.byteLength <= limitBytes) return { attachment: attach(png, 'png') };
  const limit = formatBytes(limitBytes);
  const { width = 0, height = 0 } = await sharp(png).metadata();
  for (const format of ['webp', 'jpeg'] as const) {
    const data = await encode(png, format, width, height);
    if (data.byteLength <= limitBytes) {
      return { attachment: attach(data, ext(format)), note: `Re-encoded as ${format.toUpperCase()} (quality ${QUALITY}) to fit the ${limit} upload limit.` };
    }
  }
  let [w, h] = [width, height];
  while (Math.min(w, h) * SHRINK >= MIN_SIDE) {
    [w, h] = [Math.round(w * SHRINK), Math.round(h * SHRINK)];
    const data = await encode(png, 'webp', w, h);
    if (data.byteLength <= limitBytes) {
      return { attachment: attach(data, 'webp'), note: `Downscaled to ${w}×${h} WebP to fit the ${limit} upload limit.` };
    }
  }
  return { note: `The ${width}×${height} image (${formatBytes(png.byteLength)}) could not be made smaller than the ${limit} upload limit.` };
}

async function encode(png: Uint8Array, format: 'webp' | 'jpeg', width: number, height: number): Promise<Uint8Array> {
  const image = sharp(png).resize(width, height, { fit: 'fill' });
  return format === 'webp' ? image.webp({ quality: QUALITY }).toBuffer() : image.jpeg({ quality: QUALITY, mozjpeg: true }).toBuffer();
}

const ext = (format: 'webp' | 'jpeg'): string => (format === 'jpeg' ? 'jpg' : 'webp');

function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${+(bytes / 1024 / 1024).toFixed(1)} MiB`;
  if (bytes >= 1024) return `${+(bytes / 1024).toFixed(1)} KiB`;
  return `${bytes} B`;
}
