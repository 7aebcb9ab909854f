import { readFileSync } from 'node:fs';

/** An array read from a .npy file: C-order data with its shape. */
export interface NpyArray {
  shape: number[];
  data: Float32Array | Int32Array | BigInt64Array;
}

const DTYPES = { '<f4': Float32Array, '<i4': Int32Array, '<i8': BigInt64Array } as const;

/** Reads a little-endian, C-order .npy file of float32, int32 or int64 (format versions 1–3). */
export function readNpy(path: string): NpyArray {
  const bytes = readFileSync(path);
  if (bytes.toString('latin1', 0, 6) !== '\x93NUMPY') throw new Error(`${path} is not a .npy file`);
  const major = bytes[6]!;
  const headerLength = major === 1 ? bytes.readUInt16LE(8) : bytes.readUInt32LE(8);
  const headerStart = major === 1 ? 10 : 12;
  const header = bytes.toString('latin1', headerStart, headerStart + headerLength);
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (/'fortran_order':\s*True/.test(header)) throw new Error(`${path}: Fortran order is not supported`);
  if (descr === undefined || !(descr in DTYPES) || shapeText === undefined)
    throw new Error(`${path}: unsupported header ${header}`);
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map(Number);
  const Ctor = DTYPES[descr as keyof typeof DTYPES];
  const start = headerStart + headerLength;
  const body = bytes.buffer.slice(bytes.byteOffset + start, bytes.byteOffset + bytes.byteLength);
  return { shape, data: new Ctor(body) };
}

/** Largest |a − b| divided by the largest |b| (the fixtures' tolerance measure). */
export function maxRelativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} ≠ ${expected.length}`);
  let maxDiff = 0;
  let maxRef = 0;
  for (let i = 0; i < expected.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(actual[i]! - expected[i]!));
    maxRef = Math.max(maxRef, Math.abs(expected[i]!));
  }
  return maxDiff / maxRef;
}
