/**
 * LocalBlend: keep the edit inside the region of chosen words. After every sampler step, each edited row's latents
 * are replaced by the source's outside a mask built from the cross-attention of the blend words:
 *
 *   1. per prompt row, the head-averaged cond cross-attention maps of the layers at one UNet level, summed over the
 *      UNet calls so far (a running sum, as the reference's store), summed over the row's word token columns and
 *      averaged over the layers;
 *   2. a 3×3 max-pool (stride 1, padding 1), a nearest resize to the latent size, division by the row's maximum;
 *   3. mask_r = (map_0 > threshold) OR (map_r > threshold)  (null-text notebook's union, which works for any
 *      number of rows; the stable notebook's form only works for one edit);
 *   4. x_r = x_0 + mask_r·(x_r − x_0) for every edited row r ≥ 1; row 0 is untouched.
 *
 * Differences from the reference, on purpose: the maps are used at their real size (the reference hard-codes 16×16,
 * right only at 512², and at 256² reinterprets 8×8 maps as 16×16); the level is relative to the latent (default 2,
 * latent/4, the reference's 16×16 at 512²); with a binary mask, step 4 selects x_r or x_0 exactly instead of
 * computing x_0 + (x_r − x_0) in float32 (a rounding difference of at most one ulp). As in the reference, the
 * maps of edited rows are their post-edit maps.
 */
import { levelSize } from './edit/schedule.js';

/** The head-averaged cond cross-attention maps of one layer at one UNet call, [rows, q, K]. */
export interface LayerMaps {
  level: number;
  /** Query length h·w of the layer. */
  q: number;
  data: Float32Array;
}

export interface LocalBlendOptions {
  /** UNet level of the maps (0 = latent size); default 2 (16×16 at 512², 8×8 at 256²). */
  level?: number;
  /** A pixel is in a row's region when its normalised map is above this; default 0.3. */
  threshold?: number;
  /** First UNet call (0-based) whose step is blended (null-text notebook's start_blend); default 0. */
  startCall?: number;
  /**
   * False for a re-edit: the batch rows are the edits only, and the source's maps and latents are passed to
   * addMaps/apply (from the attention store). Default true.
   */
  sourceInBatch?: boolean;
}

export const DEFAULT_BLEND_LEVEL = 2;
export const DEFAULT_BLEND_THRESHOLD = 0.3;

/** 3×3 max filter with stride 1 and padding 1 (padding never wins), per map of `rows` maps [h, w]. */
export function maxPool3x3(maps: Float32Array, rows: number, height: number, width: number): Float32Array {
  const out = new Float32Array(maps.length);
  const hw = height * width;
  for (let r = 0; r < rows; r++) {
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        let best = -Infinity;
        for (let dy = -1; dy <= 1; dy++) {
          const yy = y + dy;
          if (yy < 0 || yy >= height) continue;
          for (let dx = -1; dx <= 1; dx++) {
            const xx = x + dx;
            if (xx >= 0 && xx < width) best = Math.max(best, maps[r * hw + yy * width + xx]);
          }
        }
        out[r * hw + y * width + x] = best;
      }
    }
  }
  return out;
}

/** torch's nearest resize (no align_corners): output index d reads input floor(d·in/out), the scale in float32. */
function nearestIndex(outSize: number, inSize: number): Int32Array {
  const scale = Math.fround(inSize / outSize);
  return Int32Array.from({ length: outSize }, (_, d) => Math.min(Math.floor(Math.fround(d * scale)), inSize - 1));
}

export function resizeNearest(maps: Float32Array, rows: number, inH: number, inW: number, outH: number, outW: number): Float32Array {
  const ys = nearestIndex(outH, inH);
  const xs = nearestIndex(outW, inW);
  const out = new Float32Array(rows * outH * outW);
  for (let r = 0; r < rows; r++) {
    for (let y = 0; y < outH; y++) {
      for (let x = 0; x < outW; x++) out[(r * outH + y) * outW + x] = maps[(r * inH + ys[y]) * inW + xs[x]];
    }
  }
  return out;
}

/** Divides each map by its maximum; a row whose map is all zero (no blend words) stays zero. */
export function normalizeByMax(maps: Float32Array, rows: number): Float32Array {
  const size = maps.length / rows;
  const out = new Float32Array(maps.length);
  for (let r = 0; r < rows; r++) {
    const row = maps.subarray(r * size, (r + 1) * size);
    const max = row.reduce((m, v) => Math.max(m, v), -Infinity);
    if (max > 0) for (let i = 0; i < size; i++) out[r * size + i] = row[i] / max;
  }
  return out;
}

/** mask_r = (norm_0 > t) OR (norm_r > t) for r = 1..rows−1: [rows − 1, size] of 0/1. */
export function unionMasks(normalized: Float32Array, rows: number, threshold: number): Uint8Array {
  const size = normalized.length / rows;
  const masks = new Uint8Array((rows - 1) * size);
  for (let r = 1; r < rows; r++) {
    for (let i = 0; i < size; i++) masks[(r - 1) * size + i] = normalized[i] > threshold || normalized[r * size + i] > threshold ? 1 : 0;
  }
  return masks;
}

export interface BlendMasks {
  /** [rows, latentH·latentW]: pooled, resized maps divided by their maximum (before the threshold). */
  normalized: Float32Array;
  /** [rows − 1, latentH·latentW]: the mask of each edited row. */
  masks: Uint8Array;
}

/** Steps 2–3 above, from word maps [rows, mapH·mapW] (row 0 = source). */
export function blendMasksFromWordMaps(
  wordMaps: Float32Array,
  rows: number,
  map: { height: number; width: number },
  latent: { height: number; width: number },
  threshold = DEFAULT_BLEND_THRESHOLD,
): BlendMasks {
  const pooled = maxPool3x3(wordMaps, rows, map.height, map.width);
  const normalized = normalizeByMax(resizeNearest(pooled, rows, map.height, map.width, latent.height, latent.width), rows);
  return { normalized, masks: unionMasks(normalized, rows, threshold) };
}

/** Step 4 for rows 1.. of `latents` ([rows, latentSize]); row 0 is the source. Returns new latents. */
export function blendLatents(latents: Float32Array, rows: number, latentSize: number, masks: Uint8Array, pixels: number): Float32Array {
  const out = latents.slice();
  const channels = latentSize / pixels;
  for (let r = 1; r < rows; r++) {
    const mask = masks.subarray((r - 1) * pixels, r * pixels);
    for (let c = 0; c < channels; c++) {
      for (let p = 0; p < pixels; p++) {
        if (!mask[p]) out[r * latentSize + c * pixels + p] = latents[c * pixels + p];
      }
    }
  }
  return out;
}

/** Local blending across the calls of one edit job. */
export class LocalBlend {
  private readonly level: number;
  private readonly threshold: number;
  private readonly startCall: number;
  private readonly sourceInBatch: boolean;
  /** Running sum over calls of the layer-mean word maps, [prompt rows, q] (allocated on the first call). */
  private wordMaps: Float32Array | undefined;
  private q = 0;
  private calls = 0;
  private last: BlendMasks | undefined;

  /**
   * @param rowTokens token positions of the blend words for each prompt row (row 0 = the source)
   * @param tokens K, the token axis of the maps
   */
  constructor(
    private readonly rowTokens: readonly (readonly number[])[],
    private readonly tokens: number,
    options: LocalBlendOptions = {},
  ) {
    if (rowTokens.length < 2) throw new Error('LocalBlend needs the source row and at least one edited row');
    this.level = options.level ?? DEFAULT_BLEND_LEVEL;
    this.threshold = options.threshold ?? DEFAULT_BLEND_THRESHOLD;
    this.startCall = options.startCall ?? 0;
    this.sourceInBatch = options.sourceInBatch ?? true;
  }

  /** The UNet level whose cross-attention maps this blend reads. */
  get mapLevel(): number {
    return this.level;
  }

  /** The masks of the last apply() that blended (undefined before). */
  get lastMasks(): BlendMasks | undefined {
    return this.last;
  }

  /**
   * Adds one UNet call's maps. Layers at other levels are ignored. For a re-edit, `sourceMap` is the source's
   * layer-mean, head-averaged map [q, K] of this call (from the attention store).
   */
  addMaps(layerMaps: readonly LayerMaps[], sourceMap?: Float32Array): void {
    const layers = layerMaps.filter((m) => m.level === this.level);
    if (layers.length === 0) throw new Error(`LocalBlend: no cross-attention maps at level ${this.level}`);
    const rows = this.rowTokens.length;
    const q = layers[0].q;
    if (!this.wordMaps) {
      this.wordMaps = new Float32Array(rows * q);
      this.q = q;
    }
    if (q !== this.q) throw new Error(`LocalBlend: maps of ${q} queries, expected ${this.q}`);
    const firstBatchRow = this.sourceInBatch ? 0 : 1;
    if (!this.sourceInBatch) {
      if (!sourceMap) throw new Error('LocalBlend: a re-edit needs the source map of every call');
      this.accumulate(0, [sourceMap], 0);
    }
    for (let row = firstBatchRow; row < rows; row++) this.accumulate(row, layers.map((l) => l.data), row - firstBatchRow);
    this.calls++;
  }

  /** Adds mean over `maps` of the word-column sums of batch row `batchRow` to prompt row `row`. */
  private accumulate(row: number, maps: readonly Float32Array[], batchRow: number): void {
    const acc = this.wordMaps!.subarray(row * this.q, (row + 1) * this.q);
    const k = this.tokens;
    const offset = batchRow * this.q * k;
    for (const map of maps) {
      for (let p = 0; p < this.q; p++) {
        let sum = 0;
        for (const t of this.rowTokens[row]) sum += map[offset + p * k + t];
        acc[p] += sum / maps.length;
      }
    }
  }

  /**
   * Blends the latents after the sampler step of the last call given to addMaps. `latents` holds the batch's
   * prompt rows ([rows, C, h, w]); for a re-edit those are the edit rows only and `sourceLatents` is the source's
   * latent after the same step. Returns the new latents of the same rows.
   */
  apply(latents: Float32Array, latentSize: number, latentHeight: number, latentWidth: number, sourceLatents?: Float32Array): Float32Array {
    if (!this.wordMaps) throw new Error('LocalBlend.apply before any maps were added');
    if (this.calls - 1 < this.startCall) return latents.slice();
    const rows = this.rowTokens.length;
    const map = levelSize(latentHeight, latentWidth, this.level);
    if (map.query !== this.q) throw new Error(`LocalBlend: level ${this.level} of a ${latentHeight}×${latentWidth} latent has ${map.query} queries, the maps have ${this.q}`);
    this.last = blendMasksFromWordMaps(this.wordMaps, rows, map, { height: latentHeight, width: latentWidth }, this.threshold);
    const pixels = latentHeight * latentWidth;
    if (this.sourceInBatch) return blendLatents(latents, rows, latentSize, this.last.masks, pixels);
    if (!sourceLatents) throw new Error('LocalBlend: a re-edit needs the source latents of every step');
    const all = new Float32Array(rows * latentSize);
    all.set(sourceLatents.subarray(0, latentSize));
    all.set(latents, latentSize);
    return blendLatents(all, rows, latentSize, this.last.masks, pixels).slice(latentSize);
  }
}
