/**
 * The few NumPy routines diffusers builds its timestep grids with, reproduced to the bit where the result is
 * an integer timestep (a different rounding there would pick a different UNet timestep). All math is float64,
 * as NumPy's is for Python numbers.
 */

/** np.round / np.rint: halves go to the even neighbour (2.5 → 2, 3.5 → 4), unlike Math.round. */
export function roundHalfEven(x: number): number {
  const rounded = Math.round(x);
  return Math.abs(x % 1) === 0.5 && rounded % 2 !== 0 ? rounded - 1 : rounded;
}

/** np.linspace(start, stop, num, endpoint): i·step + start, and the last value set to `stop` exactly. */
export function linspace(start: number, stop: number, num: number, endpoint = true): number[] {
  const divisions = endpoint ? num - 1 : num;
  const delta = stop - start;
  const step = divisions > 0 ? delta / divisions : NaN;
  const values = Array.from({ length: num }, (_, i) => {
    if (divisions <= 0) return i * delta + start;
    return step === 0 ? (i / divisions) * delta + start : i * step + start;
  });
  if (endpoint && num > 1) values[num - 1] = stop;
  return values;
}

/**
 * np.arange(start, stop, step) with a float step: ceil((stop − start)/step) values, filled as NumPy does (start,
 * start + step, then start + i·((start + step) − start)), so trailing grids (1000 − i·1000/n) round like diffusers'.
 */
export function arange(start: number, stop: number, step: number): number[] {
  const length = Math.max(0, Math.ceil((stop - start) / step));
  const second = start + step;
  const delta = second - start;
  return Array.from({ length }, (_, i) => (i === 0 ? start : i === 1 ? second : start + i * delta));
}

/**
 * np.interp(x, arange(len(table)), table): linear interpolation on the integer grid, clamped at both ends.
 * A point on the grid returns the table value itself (NumPy's exact-hit case).
 */
export function interpOnIntegerGrid(x: number, table: ArrayLike<number>): number {
  const last = table.length - 1;
  if (x <= 0) return table[0];
  if (x >= last) return table[last];
  const low = Math.floor(x);
  if (low === x) return table[low];
  const slope = table[low + 1] - table[low];
  return slope * (x - low) + table[low];
}
