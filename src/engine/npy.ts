/** Reader and writer for NumPy .npy files (format 1.0/2.0, little-endian, C order): reference data and --save-latents. */
import { readFileSync, writeFileSync } from 'node:fs';

export type NpyArray =
  | { dtype: 'float32'; shape: number[]; data: Float32Array }
  | { dtype: 'float64'; shape: number[]; data: Float64Array }
  | { dtype: 'int64'; shape: number[]; data: BigInt64Array }
  | { dtype: 'int32'; shape: number[]; data: Int32Array }
  | { dtype: 'uint8'; shape: number[]; data: Uint8Array };

const DESCR: Record<string, NpyArray['dtype']> = { '<f4': 'float32', '<f8': 'float64', '<i8': 'int64', '<i4': 'int32', '|u1': 'uint8' };

export function parseNpy(buf: Uint8Array): NpyArray {
  const magic = String.fromCharCode(...buf.subarray(1, 6));
  if (buf[0] !== 0x93 || magic !== 'NUMPY') throw new Error('not a .npy file');
  const major = buf[6];
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const headerStart = major === 1 ? 10 : 12;
  const header = new TextDecoder().decode(buf.subarray(headerStart, headerStart + headerLen));
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || !fortran || shapeText === undefined) throw new Error(`bad .npy header: ${header}`);
  if (fortran === 'True') throw new Error('Fortran-order .npy is not supported');
  const dtype = DESCR[descr];
  if (!dtype) throw new Error(`unsupported .npy dtype ${descr}`);
  const shape = shapeText.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  const count = shape.reduce((a, b) => a * b, 1);
  const start = headerStart + headerLen;
  const byteCount = count * bytesPer(dtype);
  if (buf.length < start + byteCount) {
    throw new Error(`truncated .npy: shape (${shape.join(', ')}) needs ${byteCount} data bytes, the file has ${Math.max(0, buf.length - start)}`);
  }
  // A real copy (Buffer#slice would be a view): aligned for the typed array and detached from the file buffer.
  const bytes = Uint8Array.prototype.slice.call(buf, start, start + byteCount);
  switch (dtype) {
    case 'float32': return { dtype, shape, data: new Float32Array(bytes.buffer, 0, count) };
    case 'float64': return { dtype, shape, data: new Float64Array(bytes.buffer, 0, count) };
    case 'int64': return { dtype, shape, data: new BigInt64Array(bytes.buffer, 0, count) };
    case 'int32': return { dtype, shape, data: new Int32Array(bytes.buffer, 0, count) };
    case 'uint8': return { dtype, shape, data: new Uint8Array(bytes.buffer, 0, count) };
  }
}

function bytesPer(dtype: NpyArray['dtype']): number {
  return dtype === 'uint8' ? 1 : dtype === 'int32' || dtype === 'float32' ? 4 : 8;
}

export function readNpy(path: string): NpyArray {
  return parseNpy(readFileSync(path));
}

/** Reads a float32 array (float64 files are narrowed). */
export function readNpyFloat32(path: string): { shape: number[]; data: Float32Array } {
  const a = readNpy(path);
  if (a.dtype === 'float32') return a;
  if (a.dtype === 'float64') return { shape: a.shape, data: Float32Array.from(a.data) };
  throw new Error(`${path}: expected a float array, got ${a.dtype}`);
}

export function encodeNpyFloat32(data: Float32Array, shape: readonly number[]): Uint8Array {
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const out = new Uint8Array(10 + header.length + data.byteLength);
  out.set([0x93, ...Array.from('NUMPY', (c) => c.charCodeAt(0)), 1, 0]);
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 10 + header.length);
  return out;
}

export function writeNpyFloat32(path: string, data: Float32Array, shape: readonly number[]): void {
  writeFileSync(path, encodeNpyFloat32(data, shape));
}
