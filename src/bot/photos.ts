/**
 * Users' pictures as the bot takes them in, all before anything is queued: the attachment Discord describes is
 * checked (size, type), downloaded from the URL Discord gave (capped, with a time limit), its header checked
 * (src/engine/photo.ts: not an image, too small, too large, animated), then preprocessed to the size its edits run
 * at and kept in the store under its id. A bad file costs the user a message, nothing else.
 */
import { errorMessage, UserError } from '../engine/errors.js';
import { encodePng } from '../engine/image.js';
import { checkPhoto, DEFAULT_PHOTO_AREA, photoSize, preparePhoto } from '../engine/photo.js';
import { photoId, type PhotoRef } from '../p2p/photo-edit.js';
import type { BackendLimits } from './backend.js';
import type { IncomingAttachment } from './port/index.js';
import type { JobStore } from './store.js';

/** Largest file taken: Discord's own upload limit for servers without boosts is 10 MiB; this leaves room. */
export const DEFAULT_PHOTO_MAX_BYTES = 25 * 1024 * 1024;
/** A download taking longer than this is given up. */
const DOWNLOAD_TIMEOUT_MS = 30_000;

export interface PhotoIntakeOptions {
  maxBytes: number;
  limits: BackendLimits;
  store: JobStore;
}

const mib = (bytes: number): string => `${Math.round((bytes / (1024 * 1024)) * 10) / 10} MiB`;

/** The attachment's bytes, or UserError: not a picture by its type, too large, or a download that fails. */
export async function downloadAttachment(attachment: IncomingAttachment, maxBytes: number): Promise<Uint8Array> {
  const what = `“${attachment.name}”`;
  if (attachment.contentType !== undefined && !attachment.contentType.startsWith('image/')) {
    throw new UserError('bad_input', `${what} is not a picture (${attachment.contentType}): attach a PNG, JPEG or WebP image.`);
  }
  if (attachment.size > maxBytes) throw new UserError('bad_input', `${what} is ${mib(attachment.size)}: pictures of at most ${mib(maxBytes)} are taken.`);
  if (attachment.data) return attachment.data;
  let url: URL;
  try {
    url = new URL(attachment.url);
  } catch {
    throw new UserError('bad_input', `${what} has no address I can download it from.`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new UserError('bad_input', `${what} has no address I can download it from.`);
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(DOWNLOAD_TIMEOUT_MS), redirect: 'error' });
  } catch (e) {
    throw new UserError('bad_input', `I could not download ${what} (${errorMessage(e)}): try again.`);
  }
  if (!response.ok) {
    await response.body?.cancel();
    throw new UserError('bad_input', `I could not download ${what} (HTTP ${response.status}): try again.`);
  }
  const type = response.headers.get('content-type') ?? '';
  if (!type.startsWith('image/')) {
    await response.body?.cancel();
    throw new UserError('bad_input', `${what} is not a picture (its address gives ${type || 'no type'}): attach a PNG, JPEG or WebP image.`);
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of response.body ?? []) {
    total += chunk.byteLength;
    if (total > maxBytes) {
      await response.body?.cancel().catch(() => {});
      throw new UserError('bad_input', `${what} is over ${mib(maxBytes)}: pictures of at most ${mib(maxBytes)} are taken.`);
    }
    chunks.push(chunk);
  }
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) bytes.set(chunk, (at += chunk.byteLength) - chunk.byteLength);
  return bytes;
}

/** The size a picture of `width`×`height` is edited at: its aspect, about 512² pixels at most, within the limits. */
export function photoEditSize(width: number, height: number, limits: BackendLimits): { width: number; height: number } {
  const scale = Math.min(1, Math.sqrt(DEFAULT_PHOTO_AREA / (width * height)), limits.maxSize / width, limits.maxSize / height);
  const size = photoSize(Math.max(1, Math.floor(width * scale)), Math.max(1, Math.floor(height * scale)), DEFAULT_PHOTO_AREA, limits.sizeMultiple);
  const side = (n: number): number => Math.min(Math.max(n, limits.minSize), limits.maxSize);
  return { width: side(size.width), height: side(size.height) };
}

/**
 * Downloads and checks the attachment, preprocesses it to its edit size, and keeps it in the store: the picture
 * as its edits know it. UserError for everything a user can get wrong.
 */
export async function intakePhoto(attachment: IncomingAttachment, o: PhotoIntakeOptions): Promise<PhotoRef> {
  const bytes = await downloadAttachment(attachment, o.maxBytes);
  const info = await checkPhoto(bytes);
  const photo = await preparePhoto(bytes, { ...photoEditSize(info.width, info.height, o.limits), multiple: o.limits.sizeMultiple });
  const png = await encodePng(photo.image);
  const id = photoId(png);
  o.store.putPhoto({ id, png, width: photo.width, height: photo.height });
  return { id, width: photo.width, height: photo.height };
}

/** Whether a message's file is a picture worth offering to edit (by its type, else by its name). */
export function isPicture(attachment: IncomingAttachment): boolean {
  if (attachment.contentType !== undefined) return attachment.contentType.startsWith('image/');
  return /\.(png|jpe?g|webp|gif|tiff?|avif|heic|heif)$/iu.test(attachment.name);
}

/**
 * Pictures whose edit dialog is open: a modal's id carries a number only, so the picture the user picked waits
 * here until the dialog is submitted (or for `ttlMs`; an expired or restarted one asks the user to pick it again).
 */
export class PhotoDialogs {
  private next = 1;
  private readonly waiting = new Map<number, { attachment: IncomingAttachment; until: number }>();

  constructor(
    private readonly ttlMs = 30 * 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  open(attachment: IncomingAttachment): number {
    const time = this.now();
    for (const [id, entry] of this.waiting) if (entry.until <= time) this.waiting.delete(id);
    const id = this.next++;
    this.waiting.set(id, { attachment, until: time + this.ttlMs });
    return id;
  }

  /** The picture of dialog `id`; UserError when it is unknown or expired. */
  take(id: number): IncomingAttachment {
    const entry = this.waiting.get(id);
    this.waiting.delete(id);
    if (!entry || entry.until <= this.now()) {
      throw new UserError('not_found', 'This dialog has expired: use “Edit with prompt” on the picture again.');
    }
    return entry.attachment;
  }
}
