/**
 * From VAE output to a PNG: diffusers' postprocessing (bit-for-bit, numpy rounding included), PNG encoding through
 * sharp, and an A1111-style `parameters` text chunk that other tools (and our bot) read back.
 */
import { crc32 } from 'node:zlib';
import sharp from 'sharp';
import { UserError } from './errors.js';
import { roundHalfEven } from './schedulers/numpy-compat.js';
import type { SamplerName } from './schedulers/scheduler.js';

/** 8-bit RGB, row-major, 3 bytes per pixel. */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/**
 * Planar [3, height, width] decoder output in about [-1, 1] → RGB: clamp(x/2 + 0.5, 0, 1), then round(x·255) with
 * ties to even. Each operation is rounded to float32 as torch/numpy do, so the bytes match diffusers' PIL output.
 */
export function vaeOutputToRgb(planar: Float32Array, height: number, width: number): RgbImage {
  const pixels = height * width;
  if (planar.length !== 3 * pixels) throw new Error(`expected ${3 * pixels} values for a 3×${height}×${width} image, got ${planar.length}`);
  const data = new Uint8Array(pixels * 3);
  for (let channel = 0; channel < 3; channel++) {
    const plane = channel * pixels;
    for (let p = 0; p < pixels; p++) {
      const unit = Math.min(Math.max(Math.fround(Math.fround(planar[plane + p] / 2) + 0.5), 0), 1);
      data[p * 3 + channel] = roundHalfEven(Math.fround(unit * 255));
    }
  }
  return { width, height, data };
}

/** The generation settings written into (and read back from) the `parameters` chunk. */
export interface GenerationParameters {
  prompt: string;
  negativePrompt: string;
  steps: number;
  sampler: SamplerName;
  guidance: number;
  seed: string;
  width: number;
  height: number;
  model: string;
  /** More "Key: value" pairs, e.g. an edit's settings. */
  extra?: Record<string, string | number>;
}

/** A1111's names for our samplers, so that its PNG-info readers show familiar labels. */
const SAMPLER_LABELS: Record<SamplerName, string> = {
  pndm: 'PNDM',
  ddim: 'DDIM',
  euler: 'Euler',
  'euler-a': 'Euler a',
  'dpm++2m': 'DPM++ 2M',
  'dpm++2m-karras': 'DPM++ 2M Karras',
  lms: 'LMS',
  lcm: 'LCM',
};

/** A1111 format: "<prompt>\nNegative prompt: <neg>\nSteps: 20, Sampler: DDIM, CFG scale: 7.5, Seed: 42, Size: 256x256, Model: m". */
export function formatParameters(p: GenerationParameters): string {
  const settings: Record<string, string | number> = {
    Steps: p.steps,
    Sampler: SAMPLER_LABELS[p.sampler],
    'CFG scale': p.guidance,
    Seed: p.seed,
    Size: `${p.width}x${p.height}`,
    Model: p.model,
    ...p.extra,
  };
  const line = Object.entries(settings)
    .map(([key, value]) => `${key}: ${value}`)
    .join(', ');
  const negative = p.negativePrompt ? `\nNegative prompt: ${p.negativePrompt}` : '';
  return `${p.prompt}${negative}\n${line}`;
}

/** Encodes RGB as PNG with the given text chunks (key → value). */
export async function encodePng(image: RgbImage, text: Record<string, string> = {}): Promise<Uint8Array> {
  const png = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .png()
    .toBuffer();
  return Object.entries(text).reduce<Uint8Array>((out, [key, value]) => insertPngText(out, key, value), png);
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/**
 * Adds a text chunk right after IHDR: tEXt when the value is Latin-1 (what the PNG spec allows there), otherwise an
 * uncompressed UTF-8 iTXt, as PIL does for prompts with emoji or CJK.
 */
export function insertPngText(png: Uint8Array, key: string, value: string): Uint8Array {
  checkSignature(png);
  const ihdrEnd = 8 + 12 + readUint32(png, 8);
  const latin1 = /^[\x00-\xff]*$/.test(value);
  const keyBytes = Buffer.from(key, 'latin1');
  const data = latin1
    ? Buffer.concat([keyBytes, Buffer.from([0]), Buffer.from(value, 'latin1')])
    : // iTXt: keyword \0, compression flag 0, method 0, empty language tag \0, empty translated keyword \0, UTF-8 text.
      Buffer.concat([keyBytes, Buffer.from([0, 0, 0, 0, 0]), Buffer.from(value, 'utf8')]);
  const chunk = pngChunk(latin1 ? 'tEXt' : 'iTXt', data);
  return Buffer.concat([png.subarray(0, ihdrEnd), chunk, png.subarray(ihdrEnd)]);
}

function pngChunk(type: string, data: Uint8Array): Uint8Array {
  const chunk = Buffer.alloc(12 + data.length);
  chunk.writeUInt32BE(data.length, 0);
  chunk.write(type, 4, 'latin1');
  chunk.set(data, 8);
  chunk.writeUInt32BE(crc32(chunk.subarray(4, 8 + data.length)), 8 + data.length);
  return chunk;
}

/** The uncompressed tEXt and iTXt chunks of a PNG, keyword → text. */
export function readPngText(png: Uint8Array): Record<string, string> {
  checkSignature(png);
  const bytes = Buffer.from(png.buffer, png.byteOffset, png.byteLength);
  const text: Record<string, string> = {};
  for (let offset = 8; offset + 12 <= bytes.length; ) {
    const length = bytes.readUInt32BE(offset);
    const type = bytes.toString('latin1', offset + 4, offset + 8);
    const data = bytes.subarray(offset + 8, offset + 8 + length);
    const keyEnd = data.indexOf(0);
    if (type === 'tEXt' && keyEnd > 0) {
      text[data.toString('latin1', 0, keyEnd)] = data.toString('latin1', keyEnd + 1);
    } else if (type === 'iTXt' && keyEnd > 0 && data[keyEnd + 1] === 0) {
      // Skip compression flag/method, then the language tag and translated keyword (both \0-terminated).
      const languageEnd = data.indexOf(0, keyEnd + 3);
      const translatedEnd = data.indexOf(0, languageEnd + 1);
      text[data.toString('latin1', 0, keyEnd)] = data.toString('utf8', translatedEnd + 1);
    }
    if (type === 'IEND') break;
    offset += 12 + length;
  }
  return text;
}

function checkSignature(png: Uint8Array): void {
  if (png.length < 8 || PNG_SIGNATURE.some((b, i) => png[i] !== b)) throw new UserError('bad_input', 'The file is not a PNG image.');
}

function readUint32(bytes: Uint8Array, offset: number): number {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(offset);
}

/**
 * Reads back what `formatParameters` wrote (the PNG's `parameters` text): the prompt, negative prompt and settings.
 * UserError('bad_input') naming what is missing when the text is not such a block (say, another tool's).
 */
export function parseParameters(text: string): GenerationParameters {
  const lastBreak = text.lastIndexOf('\n');
  if (lastBreak < 0) throw badParameters('no settings line');
  let prompt = text.slice(0, lastBreak);
  let negativePrompt = '';
  const negative = prompt.lastIndexOf('\nNegative prompt: ');
  if (negative >= 0) {
    negativePrompt = prompt.slice(negative + '\nNegative prompt: '.length);
    prompt = prompt.slice(0, negative);
  }
  // "Key: value" pairs separated by ", " where the next key starts (values may contain commas).
  const settings = new Map<string, string>();
  const line = text.slice(lastBreak + 1);
  const keys = [...line.matchAll(/(?:^|, )([A-Za-z][A-Za-z0-9 _-]*): /g)];
  keys.forEach((match, k) => {
    const end = k + 1 < keys.length ? keys[k + 1].index : line.length;
    settings.set(match[1], line.slice(match.index + match[0].length, end));
  });
  const value = (key: string): string => {
    const found = settings.get(key);
    if (found === undefined) throw badParameters(`no "${key}"`);
    return found;
  };
  const number = (key: string): number => {
    const parsed = Number(value(key));
    if (!Number.isFinite(parsed)) throw badParameters(`"${key}: ${value(key)}" is not a number`);
    return parsed;
  };
  const label = value('Sampler');
  const sampler = (Object.keys(SAMPLER_LABELS) as SamplerName[]).find((name) => SAMPLER_LABELS[name] === label);
  if (!sampler) throw badParameters(`unknown sampler "${label}"`);
  const size = /^(\d+)x(\d+)$/.exec(value('Size'));
  if (!size) throw badParameters(`"Size: ${value('Size')}" is not WIDTHxHEIGHT`);
  const known = new Set(['Steps', 'Sampler', 'CFG scale', 'Seed', 'Size', 'Model']);
  const extra = Object.fromEntries([...settings].filter(([key]) => !known.has(key)));
  return {
    prompt,
    negativePrompt,
    steps: number('Steps'),
    sampler,
    guidance: number('CFG scale'),
    seed: value('Seed'),
    width: Number(size[1]),
    height: Number(size[2]),
    model: settings.get('Model') ?? '',
    ...(Object.keys(extra).length > 0 ? { extra } : {}),
  };
}

function badParameters(what: string): UserError {
  return new UserError('bad_input', `The image's generation parameters cannot be read (${what}): expected the "parameters" text reprompt writes.`);
}
