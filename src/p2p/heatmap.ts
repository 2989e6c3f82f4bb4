/**
 * Per-token cross-attention heat maps, the paper's visualisation: the cross-attention probabilities of one prompt
 * row, averaged over heads, over the layers at one UNet level and over the UNet calls, shown as one tile per
 * prompt token (BOS, EOS and padding left out) with the token under it.
 *
 * Matches google/prompt-to-prompt's aggregate_attention + show_cross_attention: feed the down and up layers (not
 * mid) of one level; each tile is the token's map divided by its maximum (×255), upsampled (bilinear here, PIL's
 * resize there). Tiles use an inferno-like colour ramp instead of grey, and can be laid over the image at 50 %.
 */
import sharp from 'sharp';
import type { RgbImage } from '../engine/image.js';
import type { EditTokenizer } from './edit/words.js';
import { bitmapTextWidth, drawBitmapText, GLYPH_HEIGHT } from './heatmap-font.js';

/** Sums maps per level; `mean` is the average over every map added (heads × layers × calls). */
export class AttentionAccumulator {
  private readonly sums = new Map<number, { sum: Float64Array; count: number }>();

  /** Adds one layer's maps of the row to show at one UNet call: [heads, Q, K] (head-averaged input: heads = 1). */
  add(level: number, maps: Float32Array, heads = 1): void {
    const size = maps.length / heads;
    if (!Number.isInteger(size)) throw new Error(`AttentionAccumulator: ${maps.length} values are not ${heads} heads`);
    let entry = this.sums.get(level);
    if (!entry) this.sums.set(level, (entry = { sum: new Float64Array(size), count: 0 }));
    if (entry.sum.length !== size) throw new Error(`AttentionAccumulator: level ${level} maps have ${entry.sum.length} values, got ${size}`);
    for (let h = 0; h < heads; h++) for (let i = 0; i < size; i++) entry.sum[i] += maps[h * size + i];
    entry.count += heads;
  }

  /** The mean map [Q, K] of a level. */
  mean(level: number): Float32Array {
    const entry = this.sums.get(level);
    if (!entry) throw new Error(`AttentionAccumulator: no maps at level ${level}`);
    return Float32Array.from(entry.sum, (v) => v / entry.count);
  }

  levels(): number[] {
    return [...this.sums.keys()].sort((a, b) => a - b);
  }
}

/** The tile labels of a prompt: its content tokens that fit in the text encoder's context, decoded one by one. */
export function promptTokenLabels(prompt: string, tokenizer: EditTokenizer): string[] {
  return tokenizer.encode(prompt).slice(1, -1).slice(0, tokenizer.maxLength - 2).map((id) => tokenizer.decodeToken(id));
}

export interface HeatmapGridInput {
  /** [h·w, K]: mean attention per query pixel and token position (0 = BOS). */
  maps: Float32Array;
  h: number;
  w: number;
  /** Labels of the prompt's tokens; tokens[i] is token position i + 1. One tile each. */
  tokens: readonly string[];
  /** Lay each tile over this image at 50 %. */
  image?: RgbImage;
  /** Pixels of a tile's longer side (default 128). */
  tileSize?: number;
  /** Tiles per grid row (default min(tokens, 8)). */
  columns?: number;
  /** 'auto' (default) uses system fonts when they render, else the built-in bitmap font. */
  font?: 'auto' | 'system' | 'bitmap';
  /** A line above the tiles saying what the grid shows (which prompt: an edit's grid shows the edited one). */
  title?: string;
}

const GAP = 4;
const BACKGROUND = 255;
const TEXT_COLOR: readonly [number, number, number] = [20, 20, 20];

/** Inferno-like ramp: (value, r, g, b) stops. */
const RAMP: readonly (readonly [number, number, number, number])[] = [
  [0, 0, 0, 4],
  [0.25, 87, 16, 110],
  [0.5, 188, 55, 84],
  [0.75, 249, 142, 9],
  [1, 252, 255, 164],
];

function rampColor(v: number): [number, number, number] {
  const x = Math.min(Math.max(v, 0), 1);
  let k = 1;
  while (k < RAMP.length - 1 && x > RAMP[k][0]) k++;
  const [x0, ...c0] = RAMP[k - 1];
  const [x1, ...c1] = RAMP[k];
  const t = (x - x0) / (x1 - x0);
  return [0, 1, 2].map((i) => Math.round(c0[i] + t * (c1[i] - c0[i]))) as [number, number, number];
}

/** Bilinear resize (pixel centres aligned, edges clamped) of one [h, w] map. */
function resizeBilinear(map: Float32Array, h: number, w: number, outH: number, outW: number): Float32Array {
  const out = new Float32Array(outH * outW);
  const coord = (d: number, inSize: number, outSize: number): [number, number, number] => {
    const s = Math.min(Math.max((d + 0.5) * (inSize / outSize) - 0.5, 0), inSize - 1);
    const i0 = Math.floor(s);
    return [i0, Math.min(i0 + 1, inSize - 1), s - i0];
  };
  for (let y = 0; y < outH; y++) {
    const [y0, y1, ty] = coord(y, h, outH);
    for (let x = 0; x < outW; x++) {
      const [x0, x1, tx] = coord(x, w, outW);
      const top = map[y0 * w + x0] * (1 - tx) + map[y0 * w + x1] * tx;
      const bottom = map[y1 * w + x0] * (1 - tx) + map[y1 * w + x1] * tx;
      out[y * outW + x] = top * (1 - ty) + bottom * ty;
    }
  }
  return out;
}

/** Tile size for a map of h×w: the longer side is `tileSize`. */
export function tileShape(h: number, w: number, tileSize: number): { width: number; height: number } {
  const scale = tileSize / Math.max(h, w);
  return { width: Math.max(1, Math.round(w * scale)), height: Math.max(1, Math.round(h * scale)) };
}

/**
 * One token's tile as RGB: its map column divided by the column's maximum, upsampled, coloured, and blended 50/50
 * with `background` (an RGB image already of the tile's size) when given.
 */
export function heatmapTile(maps: Float32Array, h: number, w: number, token: number, tile: { width: number; height: number }, background?: Uint8Array): Uint8Array {
  const k = maps.length / (h * w);
  const column = Float32Array.from({ length: h * w }, (_, p) => maps[p * k + token]);
  const max = column.reduce((m, v) => Math.max(m, v), 0);
  if (max > 0) for (let p = 0; p < column.length; p++) column[p] /= max;
  const up = resizeBilinear(column, h, w, tile.height, tile.width);
  const rgb = new Uint8Array(tile.width * tile.height * 3);
  up.forEach((v, p) => {
    const color = rampColor(v);
    for (let c = 0; c < 3; c++) rgb[p * 3 + c] = background ? Math.round((color[c] + background[p * 3 + c]) / 2) : color[c];
  });
  return rgb;
}

export interface GridLayout {
  width: number;
  height: number;
  tile: { width: number; height: number };
  labelHeight: number;
  /** The title band at the top (0 without a title); the tiles start under it. */
  titleHeight: number;
  /** Top-left corner of each tile; its label band lies right under it. */
  origins: { x: number; y: number }[];
}

export function heatmapGridLayout(count: number, tile: { width: number; height: number }, columns: number, titled = false): GridLayout {
  const labelHeight = Math.max(14, Math.round(0.16 * Math.max(tile.width, tile.height)));
  const titleHeight = titled ? labelHeight : 0;
  const cols = Math.max(1, Math.min(columns, count));
  const rows = Math.ceil(count / cols);
  const origins = Array.from({ length: count }, (_, i) => ({
    x: GAP + (i % cols) * (tile.width + GAP),
    y: GAP + titleHeight + Math.floor(i / cols) * (tile.height + labelHeight + GAP),
  }));
  const height = GAP + titleHeight + rows * (tile.height + labelHeight + GAP);
  return { width: GAP + cols * (tile.width + GAP), height, tile, labelHeight, titleHeight, origins };
}

let systemFontProbe: Promise<boolean> | undefined;

/** Whether SVG text renders on this machine (fontconfig finds a font): draws a word and looks for ink. */
export function systemFontsRender(): Promise<boolean> {
  systemFontProbe ??= (async () => {
    const svg = '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="32"><text x="4" y="24" font-size="20" font-family="sans-serif">Ag</text></svg>';
    try {
      const { data, info } = await sharp(Buffer.from(svg)).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
      for (let i = info.channels - 1; i < data.length; i += info.channels) if (data[i] > 0) return true;
      return false;
    } catch {
      return false;
    }
  })();
  return systemFontProbe;
}

const escapeXml = (s: string): string =>
  s.replace(/[&<>"']/gu, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);

function labelsSvg(layout: GridLayout, labels: readonly string[], title: string | undefined): Buffer {
  const fontSize = Math.round(layout.labelHeight * 0.7);
  const room = layout.tile.width - 4;
  const titleRoom = layout.width - 2 * GAP;
  const titleSqueeze = title && [...title].length * fontSize * 0.6 > titleRoom ? ` textLength="${titleRoom}" lengthAdjust="spacingAndGlyphs"` : '';
  const titleText = title ? `<text x="${GAP}" y="${GAP + Math.round(layout.titleHeight * 0.78)}"${titleSqueeze}>${escapeXml(title)}</text>` : '';
  const texts = labels.map((label, i) => {
    const { x, y } = layout.origins[i];
    // A rough width estimate; a label that may not fit is squeezed to the tile width.
    const squeeze = [...label].length * fontSize * 0.6 > room ? ` textLength="${room}" lengthAdjust="spacingAndGlyphs"` : '';
    const baseline = y + layout.tile.height + Math.round(layout.labelHeight * 0.78);
    return `<text x="${x + layout.tile.width / 2}" y="${baseline}" text-anchor="middle"${squeeze}>${escapeXml(label)}</text>`;
  });
  const fill = `rgb(${TEXT_COLOR.join(',')})`;
  return Buffer.from(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${layout.width}" height="${layout.height}">` +
      `<g font-family="DejaVu Sans, sans-serif" font-size="${fontSize}" fill="${fill}">${titleText}${texts.join('')}</g></svg>`,
  );
}

/** The largest scale at which `label` fits in `room` pixels (down to 1), and the label cut with `..` if it still does not. */
function fitBitmapText(label: string, room: number, height: number): { text: string; scale: number } {
  let scale = Math.max(1, Math.floor((height - 4) / GLYPH_HEIGHT));
  while (scale > 1 && bitmapTextWidth(label, scale) > room) scale--;
  let text = label;
  while ([...text].length > 1 && bitmapTextWidth(text, scale) > room) text = [...text].slice(0, -3).join('') + '..';
  return { text, scale };
}

function drawBitmapLabels(canvas: Uint8Array, layout: GridLayout, labels: readonly string[], title: string | undefined): void {
  if (title) {
    const { text, scale } = fitBitmapText(title, layout.width - 2 * GAP, layout.titleHeight);
    const top = GAP + Math.floor((layout.titleHeight - GLYPH_HEIGHT * scale) / 2);
    drawBitmapText(canvas, layout.width, layout.height, text, GAP, top, scale, TEXT_COLOR);
  }
  labels.forEach((label, i) => {
    const { text, scale } = fitBitmapText(label, layout.tile.width - 2, layout.labelHeight);
    const { x, y } = layout.origins[i];
    const left = x + Math.floor((layout.tile.width - bitmapTextWidth(text, scale)) / 2);
    const top = y + layout.tile.height + Math.floor((layout.labelHeight - GLYPH_HEIGHT * scale) / 2);
    drawBitmapText(canvas, layout.width, layout.height, text, left, top, scale, TEXT_COLOR);
  });
}

/** Renders the labelled grid of per-token heat maps as a PNG. */
export async function renderHeatmapGrid(input: HeatmapGridInput): Promise<Uint8Array> {
  const { maps, h, w, tokens } = input;
  if (tokens.length === 0) throw new Error('renderHeatmapGrid: no tokens to show');
  const k = maps.length / (h * w);
  if (!Number.isInteger(k) || k < tokens.length + 1) throw new Error(`renderHeatmapGrid: maps of ${maps.length} values do not hold ${tokens.length} tokens at ${h}×${w}`);
  const tile = tileShape(h, w, input.tileSize ?? 128);
  const layout = heatmapGridLayout(tokens.length, tile, input.columns ?? 8, input.title !== undefined);
  const background = input.image
    ? new Uint8Array(
        await sharp(input.image.data, { raw: { width: input.image.width, height: input.image.height, channels: 3 } })
          .resize(tile.width, tile.height, { fit: 'fill' })
          .raw()
          .toBuffer(),
      )
    : undefined;

  const canvas = new Uint8Array(layout.width * layout.height * 3).fill(BACKGROUND);
  tokens.forEach((_, i) => {
    const rgb = heatmapTile(maps, h, w, i + 1, tile, background);
    const { x, y } = layout.origins[i];
    for (let row = 0; row < tile.height; row++) {
      canvas.set(rgb.subarray(row * tile.width * 3, (row + 1) * tile.width * 3), ((y + row) * layout.width + x) * 3);
    }
  });

  const font = input.font ?? 'auto';
  const useSystem = font === 'system' || (font === 'auto' && (await systemFontsRender()));
  if (!useSystem) drawBitmapLabels(canvas, layout, tokens, input.title);
  const raw = { width: layout.width, height: layout.height, channels: 3 } as const;
  let pixels: Uint8Array = canvas;
  if (useSystem) {
    // Composite to raw first: sharp adds an alpha channel when compositing, which the PNG should not carry.
    const labelled = await sharp(canvas, { raw }).composite([{ input: labelsSvg(layout, tokens, input.title), top: 0, left: 0 }]).removeAlpha().raw().toBuffer();
    pixels = new Uint8Array(labelled);
  }
  return new Uint8Array(await sharp(pixels, { raw }).png().toBuffer());
}
