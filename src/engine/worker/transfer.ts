/** Finds the buffers of a message that can be transferred (moved) to the other thread instead of copied. */

/**
 * The ArrayBuffers behind the typed arrays anywhere in `value`. A buffer is only listed when one view covers
 * all of it: a small Node Buffer may be a slice of a shared pool, and transferring the pool would detach memory
 * that other code still uses (those few bytes are copied instead). SharedArrayBuffers are shared, never moved.
 */
export function transferablesOf(value: unknown): ArrayBuffer[] {
  const found = new Set<ArrayBuffer>();
  const seen = new Set<object>();
  const visit = (item: unknown): void => {
    if (typeof item !== 'object' || item === null || seen.has(item)) return;
    seen.add(item);
    if (ArrayBuffer.isView(item)) {
      const { buffer } = item;
      if (buffer instanceof ArrayBuffer && item.byteOffset === 0 && item.byteLength === buffer.byteLength) found.add(buffer);
      return;
    }
    for (const child of Object.values(item)) visit(child);
  };
  visit(value);
  return [...found];
}
