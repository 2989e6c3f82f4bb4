/**
 * Live previews of a running denoise: the sampler's estimate of the clean latent x₀ at a step, turned into a
 * small picture without the VAE. SD's four latent channels map almost linearly to RGB, so a 4×3 matrix (the
 * published SD 1.x/2.x factors, as ComfyUI's SD15 latent format uses) gives a blurry but faithful thumbnail;
 * sharp upscales it and encodes a small WebP or JPEG.
 *
 * x₀ comes from the UNet input of the step (which every sampler feeds in the variance-preserving form
 * x_t = √ᾱ·x₀ + √(1 − ᾱ)·ε) and the guided model output, so ε- and v-prediction models both work. It is computed
 * only on the steps that are shown.
 */
import sharp from 'sharp';
import { noiseEstimates } from './schedulers/alpha-schedule.js';
import { alphasCumprod, type BetaConfig } from './schedulers/betas.js';
import type { Scheduler } from './schedulers/scheduler.js';
import type { RgbImage } from './image.js';

export type PreviewFormat = 'webp' | 'jpeg';

/** What a caller asks for (all optional). */
export interface PreviewOptions {
  /** At most this many previews per run, spread evenly over the steps (default 4). The last step has none: the result follows. */
  count?: number;
  /** At least this long between two previews, in ms (default 0): a caller that shows them at most every few seconds says so. */
  minIntervalMs?: number;
  /** Longest side of the preview in pixels (default 256). */
  maxSide?: number;
  format?: PreviewFormat;
  /** Encoder quality 1–100 (default 70). */
  quality?: number;
}

/** One encoded preview, small enough to travel with a progress report. */
export interface StepPreview {
  data: Uint8Array;
  format: PreviewFormat;
  width: number;
  height: number;
}

const DEFAULTS = { count: 4, minIntervalMs: 0, maxSide: 256, format: 'webp', quality: 70 } as const;

/**
 * Latent channel → RGB factors for SD 1.x/2.x latents (as the model sees them, i.e. after the VAE scaling
 * factor), rows = channels 0…3, columns = R, G, B; the result is in about [-1, 1]. Published factors.
 */
export const SD_LATENT_RGB_FACTORS: readonly (readonly [number, number, number])[] = [
  [0.3512, 0.2297, 0.3227],
  [0.325, 0.4974, 0.235],
  [-0.2829, 0.1762, 0.2721],
  [-0.212, -0.2616, -0.7177],
];

/** One latent [C, h, w] (C = 4) → RGB at latent resolution: factors, then [-1, 1] → 0…255. */
export function latentToRgb(latent: Float32Array, height: number, width: number, factors = SD_LATENT_RGB_FACTORS): RgbImage {
  const pixels = height * width;
  if (latent.length !== factors.length * pixels) {
    throw new Error(`latentToRgb: expected ${factors.length}×${height}×${width} values, got ${latent.length}`);
  }
  const data = new Uint8Array(pixels * 3);
  for (let p = 0; p < pixels; p++) {
    for (let rgb = 0; rgb < 3; rgb++) {
      let v = 0;
      for (let c = 0; c < factors.length; c++) v += latent[c * pixels + p] * factors[c][rgb];
      data[p * 3 + rgb] = Math.round(Math.min(Math.max((v + 1) / 2, 0), 1) * 255);
    }
  }
  return { width, height, data };
}

/** Upscales (smoothly) so the longest side is `maxSide`, then encodes. */
export async function encodePreview(image: RgbImage, options: Pick<PreviewOptions, 'maxSide' | 'format' | 'quality'> = {}): Promise<StepPreview> {
  const maxSide = options.maxSide ?? DEFAULTS.maxSide;
  const format = options.format ?? DEFAULTS.format;
  const quality = options.quality ?? DEFAULTS.quality;
  const scale = maxSide / Math.max(image.width, image.height);
  const width = Math.max(1, Math.round(image.width * scale));
  const height = Math.max(1, Math.round(image.height * scale));
  const resized = sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } }).resize(width, height, { kernel: 'cubic' });
  const data = await (format === 'webp' ? resized.webp({ quality }) : resized.jpeg({ quality })).toBuffer();
  // A copy of exactly its bytes: a view into a larger buffer would carry all of it across postMessage.
  return { data: new Uint8Array(data), format, width, height };
}

/**
 * Which user steps (1-based) get a preview: `count` steps spread evenly over 1 … steps − 1 (none for the last, the
 * result follows it).
 */
export function previewSteps(steps: number, count: number = DEFAULTS.count): Set<number> {
  const shown = new Set<number>();
  const room = steps - 1;
  const n = Math.min(Math.max(0, Math.floor(count)), room);
  for (let i = 1; i <= n; i++) shown.add(Math.max(1, Math.round((i * steps) / (n + 1))));
  return shown;
}

/** Which row of a [rows, C, h, w] batch to preview, and the latent's shape. */
export interface RowShape {
  row: number;
  channels: number;
  height: number;
  width: number;
}

/**
 * Previews for one denoise run: decides which steps are shown (due()) and renders them (render()). Made once per
 * run with the run's scheduler after setTimesteps.
 */
export class LatentPreviewer {
  private readonly options: Required<PreviewOptions>;
  private readonly due: Set<number>;
  private readonly alphas: Float32Array;
  private lastAt = -Infinity;

  constructor(
    private readonly scheduler: Scheduler,
    steps: number,
    options: PreviewOptions = {},
  ) {
    this.options = { ...DEFAULTS, ...options };
    this.due = previewSteps(steps, this.options.count);
    const config = scheduler.config;
    this.alphas = alphasCumprod(scheduler.name, config as BetaConfig, config.rescale_betas_zero_snr === true);
  }

  /** True when user step `step` is one to show and the interval since the last preview has passed. */
  wants(step: number, now = performance.now()): boolean {
    return this.due.has(step) && now - this.lastAt >= this.options.minIntervalMs;
  }

  /**
   * The preview of one row at UNet evaluation `index`: `input` is that evaluation's (scaled) UNet input for all
   * rows, `prediction` the guided model output for all rows, both [rows, C, h, w] flat.
   */
  async render(index: number, input: Float32Array, prediction: Float32Array, shape: RowShape): Promise<StepPreview> {
    this.lastAt = performance.now();
    return encodePreview(latentToRgb(this.originalAt(index, input, prediction, shape), shape.height, shape.width), this.options);
  }

  /** The row's x₀ estimate at evaluation `index` (arguments as for render()). */
  originalAt(index: number, input: Float32Array, prediction: Float32Array, shape: RowShape): Float32Array {
    const size = shape.channels * shape.height * shape.width;
    const offset = shape.row * size;
    const predictionType = String(this.scheduler.config.prediction_type ?? 'epsilon');
    return predictedOriginal(input.subarray(offset, offset + size), prediction.subarray(offset, offset + size), this.alphaAt(index), predictionType);
  }

  /**
   * ᾱ at evaluation `index`: from the sampler's σ when it has them (σ² = (1 − ᾱ)/ᾱ), else from the training
   * schedule at the (integer) timestep.
   */
  alphaAt(index: number): number {
    const sigma = this.scheduler.sigmas?.[index];
    if (sigma !== undefined) return 1 / (1 + sigma * sigma);
    const t = Math.min(Math.max(Math.round(this.scheduler.timesteps[index]), 0), this.alphas.length - 1);
    return this.alphas[t];
  }
}

/** x₀ from the variance-preserving x_t and the model output, for the model's prediction type. */
export function predictedOriginal(xt: Float32Array, output: Float32Array, alphaProd: number, predictionType: string): Float32Array {
  const { original } = noiseEstimates('preview', predictionType, alphaProd);
  const x0 = new Float32Array(xt.length);
  for (let i = 0; i < xt.length; i++) x0[i] = original(xt[i], output[i]);
  return x0;
}
