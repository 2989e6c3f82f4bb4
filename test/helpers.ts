/** Shared test helpers: fixture paths, reference cases, array comparisons. */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
export const fixturesDir = join(repoRoot, 'test', 'fixtures');
export const referenceDir = join(fixturesDir, 'reference');
/** The bundled model (models/tiny-sd15), which the reference outputs were made from. */
export const tinyModelDir = join(repoRoot, 'models', 'tiny-sd15');
export const sdpaUnetPath = join(fixturesDir, 'variants', 'unet-sdpa', 'model.onnx');

export const fixturePath = (rel: string): string => join(fixturesDir, rel);
export const referencePath = (rel: string): string => join(referenceDir, rel);

let cases: unknown;
/** The parsed reference/cases.json. */
export function referenceCases<T = Record<string, any>>(): T {
  cases ??= JSON.parse(readFileSync(join(referenceDir, 'cases.json'), 'utf8'));
  return cases as T;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

export function meanAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i] - b[i]);
  return s / a.length;
}

export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}
