/**
 * The attention store for re-edits: what a later edit of the same source image needs so that the source branch
 * does not have to be run again, kept in memory under a byte budget with least-recently-used eviction.
 *
 * A re-edit runs only the edit rows. Per UNet call it needs, from the source's own run: the full attention
 * probabilities of every cross layer (the edit reads them through p2p_cross_weight) and of the self layers it may
 * replace (p2p_self_rows), fed as the graph's external source row; the source's map at the LocalBlend level; and
 * the source latents after the step (LocalBlend takes the outside of the mask from them).
 */

/** What one UNet call of the source run leaves for a re-edit. */
export interface SourceCallTrace {
  /** Per attention layer (graph order): probabilities [1, H, Q, K] of the cond source row, null where not kept. */
  probs: (Float32Array | null)[];
  /** Head- and layer-averaged cross-attention map [Q, K] at the LocalBlend level (LocalBlend.addMaps' sourceMap). */
  blendMap: Float32Array | null;
  /** The source latent [1, C, h, w] after this call's sampler step. */
  latents: Float32Array;
}

export interface SourceTrace {
  /** The prompt the trace was recorded with (a re-edit must use the same source prompt). */
  prompt: string;
  /** The UNet level of blendMap. */
  blendLevel: number;
  latentHeight: number;
  latentWidth: number;
  perCall: SourceCallTrace[];
}

export interface StoreStats {
  entries: number;
  bytes: number;
  hits: number;
  misses: number;
  evictions: number;
}

/** Sum of the byteLength of every typed array reachable from `value` through arrays and plain objects. */
export function typedArrayBytes(value: unknown): number {
  if (ArrayBuffer.isView(value)) return value.byteLength;
  if (Array.isArray(value)) return value.reduce((sum: number, v) => sum + typedArrayBytes(v), 0);
  if (typeof value === 'object' && value !== null) return Object.values(value).reduce((sum: number, v) => sum + typedArrayBytes(v), 0);
  return 0;
}

export interface AttentionStoreOptions<V> {
  /** Most bytes the stored values may take together. */
  budgetBytes: number;
  /** Size of a value; default: the bytes of its typed arrays. */
  sizeOf?: (value: V) => number;
}

/** A string-keyed LRU cache bounded by the summed size of its values. */
export class AttentionStore<V = SourceTrace> {
  private readonly entries = new Map<string, { value: V; bytes: number }>(); // insertion order = recency order
  private readonly budget: number;
  private readonly sizeOf: (value: V) => number;
  private bytes = 0;
  private hits = 0;
  private misses = 0;
  private evictions = 0;

  constructor(options: AttentionStoreOptions<V>) {
    if (!(options.budgetBytes >= 0)) throw new Error(`AttentionStore budget must be ≥ 0 bytes, got ${options.budgetBytes}`);
    this.budget = options.budgetBytes;
    this.sizeOf = options.sizeOf ?? typedArrayBytes;
  }

  /** The value under `key`, which becomes the most recently used; undefined (a miss) when absent. */
  get(key: string): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.value;
  }

  has(key: string): boolean {
    return this.entries.has(key);
  }

  /**
   * Stores `value` as the most recently used entry, evicting the least recently used ones until it fits.
   * A value larger than the whole budget is not stored (returns false; an older entry under the key is dropped).
   */
  set(key: string, value: V): boolean {
    this.delete(key);
    const bytes = this.sizeOf(value);
    if (bytes > this.budget) return false;
    for (const [oldest, entry] of this.entries) {
      if (this.bytes + bytes <= this.budget) break;
      this.entries.delete(oldest);
      this.bytes -= entry.bytes;
      this.evictions++;
    }
    this.entries.set(key, { value, bytes });
    this.bytes += bytes;
    return true;
  }

  delete(key: string): boolean {
    const entry = this.entries.get(key);
    if (!entry) return false;
    this.entries.delete(key);
    this.bytes -= entry.bytes;
    return true;
  }

  clear(): void {
    this.entries.clear();
    this.bytes = 0;
  }

  stats(): StoreStats {
    return { entries: this.entries.size, bytes: this.bytes, hits: this.hits, misses: this.misses, evictions: this.evictions };
  }
}
