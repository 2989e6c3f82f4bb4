/** Helpers shared by the Prompt-to-Prompt edit tests: the bundled tokenizer, the SD 1.x attention layer list. */
import { join } from 'node:path';
import { ClipTokenizer } from '../src/engine/tokenizer.js';
import type { AttentionLayerInfo } from '../src/p2p/edit/schedule.js';
import { tinyModelDir } from './helpers.js';

let tokenizer: Promise<ClipTokenizer> | undefined;
export const loadTokenizer = (): Promise<ClipTokenizer> => (tokenizer ??= ClipTokenizer.load(join(tinyModelDir, 'tokenizer')));

/**
 * The 32 attention layers of an SD 1.x UNet in graph order (down 0–2, mid, up 1–3; self before cross in each
 * transformer block), with their level (0 = latent size).
 */
export function sdAttentionLayers(): AttentionLayerInfo[] {
  const blocks: [level: number, count: number][] = [
    [0, 2], [1, 2], [2, 2], // down_blocks 0–2
    [3, 1], // mid
    [2, 3], [1, 3], [0, 3], // up_blocks 1–3
  ];
  return blocks.flatMap(([level, count]) =>
    Array.from({ length: count }, () => [{ kind: 'self', level }, { kind: 'cross', level }] as AttentionLayerInfo[]).flat(),
  );
}

/** Seeded uniform numbers in [0, 1) (mulberry32), for random test arrays. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const randomArray = (length: number, random: () => number): Float32Array => Float32Array.from({ length }, random);
