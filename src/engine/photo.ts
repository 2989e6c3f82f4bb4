/**
 * A user's image file → the pixels the VAE encoder takes. The header is checked first (`checkPhoto`: cheap, no pixel
 * is decoded), so bad input is refused before anything is queued; then `preparePhoto` decodes it with sharp:
 * EXIF orientation applied, transparency flattened onto WHITE, CMYK and 16-bit files converted to 8-bit sRGB,
 * centre-cropped to the output aspect and resized (Lanczos 3) to the output size, pixels mapped to [−1, 1].
 */
import sharp from 'sharp';
import { errorMessage, UserError } from './errors.js';
import type { RgbImage } from './image.js';
import { SIZE_RANGE } from './limits.js';

/** Refused below this many pixels per side: there is too little in such an image to edit. */
export const MIN_PHOTO_SIDE = 32;
/** Refused above this many pixels (8192×8192): decoding would take too much memory. Checked from the header. */
export const MAX_PHOTO_PIXELS = 8192 * 8192;
/** The default output area when no size is given: Stable Diffusion 1.x's native 512×512. */
export const DEFAULT_PHOTO_AREA = 512 * 512;

/** Background that transparent pixels are flattened onto. */
const BACKGROUND = { r: 255, g: 255, b: 255 };

export interface PhotoInfo {
  /** sharp's name for the format: png, jpeg, webp, gif, tiff, heif, … */
  format: string;
  /** As displayed, i.e. after the EXIF orientation. */
  width: number;
  height: number;
}

export interface PhotoOptions {
  /** Output size; with only one given the other follows the image's aspect. Default: see `photoSize`. */
  width?: number;
  height?: number;
  /** Output area (pixels) the default size aims for; default DEFAULT_PHOTO_AREA. */
  maxArea?: number;
  /** Output sides are multiples of this (the model's VAE scale factor); default 8. */
  multiple?: number;
}

export interface Photo {
  /** The preprocessed image (8-bit RGB at the output size): what the edit starts from. */
  image: RgbImage;
  /** [3, height, width] planar float32 in [−1, 1]: x/127.5 − 1. */
  pixels: Float32Array;
  width: number;
  height: number;
  source: PhotoInfo;
}

const NOT_AN_IMAGE = 'The file is not an image reprompt can read: send a PNG, JPEG or WebP picture.';

/**
 * Reads the header only and refuses what cannot be edited: not an image, smaller than MIN_PHOTO_SIDE, larger than
 * MAX_PHOTO_PIXELS, animated or multi-page. CMYK and 16-bit images pass: `preparePhoto` converts them.
 */
export async function checkPhoto(input: Uint8Array): Promise<PhotoInfo> {
  let meta: sharp.Metadata;
  try {
    // No pixel limit here: the header of a huge image must be readable so that it can be refused by its size.
    meta = await sharp(input, { limitInputPixels: false }).metadata();
  } catch {
    throw new UserError('bad_input', NOT_AN_IMAGE);
  }
  const { format, width, height } = meta;
  if (!format || !width || !height) throw new UserError('bad_input', NOT_AN_IMAGE);
  if ((meta.pages ?? 1) > 1) {
    throw new UserError('bad_input', `The image is animated or has ${meta.pages} pages: send a single still picture (PNG, JPEG or WebP).`);
  }
  if (width < MIN_PHOTO_SIDE || height < MIN_PHOTO_SIDE) {
    throw new UserError('bad_input', `The image is ${width}×${height} pixels, too small to edit: each side needs at least ${MIN_PHOTO_SIDE} pixels.`);
  }
  if (width * height > MAX_PHOTO_PIXELS) {
    const megapixels = (n: number): string => `${Math.round(n / 1e5) / 10} megapixels`;
    throw new UserError(
      'bad_input',
      `The image is ${width}×${height} pixels (${megapixels(width * height)}), too large to open: at most ${megapixels(MAX_PHOTO_PIXELS)}. Send a smaller copy.`,
    );
  }
  // EXIF orientations 5–8 turn the picture by 90°.
  const turned = (meta.orientation ?? 1) >= 5;
  return { format, width: turned ? height : width, height: turned ? width : height };
}

/**
 * The default output size for an image of `width`×`height`: its own size, scaled down to about `maxArea` pixels if
 * larger, each side rounded to a multiple of `multiple` within the pipeline's size limits (the crop then takes off
 * what rounding changed in the aspect).
 */
export function photoSize(width: number, height: number, maxArea = DEFAULT_PHOTO_AREA, multiple = 8): { width: number; height: number } {
  const scale = Math.min(1, Math.sqrt(maxArea / (width * height)));
  const side = (n: number): number => {
    const rounded = Math.floor((n * scale) / multiple) * multiple;
    return Math.min(Math.max(rounded, Math.ceil(SIZE_RANGE.min / multiple) * multiple), Math.floor(SIZE_RANGE.max / multiple) * multiple);
  };
  return { width: side(width), height: side(height) };
}

/** Header check, then decode → orient → flatten → sRGB 8-bit → centre-crop and resize → pixels in [−1, 1]. */
export async function preparePhoto(input: Uint8Array, options: PhotoOptions = {}): Promise<Photo> {
  const source = await checkPhoto(input);
  const size = photoOutputSize(source, options);
  let decoded: { data: Buffer; info: sharp.OutputInfo };
  try {
    decoded = await sharp(input, { limitInputPixels: MAX_PHOTO_PIXELS })
      .rotate() // applies the EXIF orientation
      .flatten({ background: BACKGROUND })
      .toColourspace('srgb')
      .resize(size.width, size.height, { fit: 'cover', position: 'centre', kernel: 'lanczos3' })
      .removeAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
  } catch (e) {
    throw new UserError('bad_input', `The image could not be decoded (${errorMessage(e).split('\n')[0]}): send it as PNG or JPEG.`);
  }
  const { data, info } = decoded;
  if (info.channels !== 3 || info.width !== size.width || info.height !== size.height) {
    throw new Error(`photo decoding gave ${info.width}×${info.height}×${info.channels}, expected ${size.width}×${size.height}×3`);
  }
  const image: RgbImage = { width: size.width, height: size.height, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
  return { image, pixels: rgbToPixels(image), width: size.width, height: size.height, source };
}

/** 8-bit RGB → [3, H, W] planar float32, x/127.5 − 1 (as diffusers' reference procedure). */
export function rgbToPixels(image: RgbImage): Float32Array {
  const count = image.width * image.height;
  const pixels = new Float32Array(3 * count);
  for (let p = 0; p < count; p++) {
    for (let c = 0; c < 3; c++) pixels[c * count + p] = Math.fround(image.data[3 * p + c] / 127.5) - 1;
  }
  return pixels;
}

/** The output size of a photo of this header (`checkPhoto`) with these options; UserError for a size out of range. */
export function photoOutputSize(source: PhotoInfo, options: PhotoOptions): { width: number; height: number } {
  const multiple = options.multiple ?? 8;
  if (options.width === undefined && options.height === undefined) {
    return photoSize(source.width, source.height, options.maxArea ?? DEFAULT_PHOTO_AREA, multiple);
  }
  const aspect = source.width / source.height;
  const follow = (n: number): number => Math.max(multiple, Math.round(n / multiple) * multiple);
  const width = options.width ?? follow(options.height! * aspect);
  const height = options.height ?? follow(options.width! / aspect);
  for (const [name, value] of [['Width', width], ['Height', height]] as const) {
    if (!Number.isInteger(value) || value % multiple !== 0 || value < SIZE_RANGE.min || value > SIZE_RANGE.max) {
      throw new UserError(
        'bad_input',
        `${name} ${value} is not supported: expected a multiple of ${multiple} from ${SIZE_RANGE.min} to ${SIZE_RANGE.max} pixels.`,
      );
    }
  }
  return { width, height };
}
