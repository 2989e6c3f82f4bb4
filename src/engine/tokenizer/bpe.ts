/** Byte-pair encoding of one pre-token with CLIP's `</w>` end-of-word marker, memoised per word. */

export const END_OF_WORD = '</w>';

/** Key of a merge pair in the rank map; symbols never contain a space (the byte alphabet has none). */
export const mergeKey = (first: string, second: string): string => `${first} ${second}`;

export class BytePairEncoder {
  private readonly cache = new Map<string, readonly string[]>();

  /**
   * @param ranks merge priority per `mergeKey(a, b)`, lower merges first (line order of merges.txt)
   * @param cacheLimit the cache is emptied when it grows past this many words, so a long-running bot stays bounded
   */
  constructor(
    private readonly ranks: ReadonlyMap<string, number>,
    private readonly cacheLimit = 50_000,
  ) {}

  /** The BPE symbols of a byte-level word, e.g. 'believin' → ['believ', 'in</w>']. */
  encodeWord(word: string): readonly string[] {
    const cached = this.cache.get(word);
    if (cached) return cached;
    const symbols = this.merge(word);
    if (this.cache.size >= this.cacheLimit) this.cache.clear();
    this.cache.set(word, symbols);
    return symbols;
  }

  /** Repeatedly merges every occurrence of the best-ranked adjacent pair until no pair has a rank. */
  private merge(word: string): string[] {
    let symbols = [...word];
    symbols[symbols.length - 1] += END_OF_WORD;
    while (symbols.length > 1) {
      const best = this.bestPair(symbols);
      if (best === undefined) break;
      const [first, second] = best;
      const merged: string[] = [];
      for (let i = 0; i < symbols.length; i++) {
        if (symbols[i] === first && symbols[i + 1] === second) {
          merged.push(first + second);
          i++;
        } else {
          merged.push(symbols[i]);
        }
      }
      symbols = merged;
    }
    return symbols;
  }

  private bestPair(symbols: readonly string[]): [string, string] | undefined {
    let bestRank = Infinity;
    let bestIndex = -1;
    for (let i = 0; i + 1 < symbols.length; i++) {
      const rank = this.ranks.get(mergeKey(symbols[i], symbols[i + 1]));
      if (rank !== undefined && rank < bestRank) {
        bestRank = rank;
        bestIndex = i;
      }
    }
    return bestIndex < 0 ? undefined : [symbols[bestIndex], symbols[bestIndex + 1]];
  }
}
