import { getFloat16 } from '@petamoriken/float16';
import { SdError } from '../errors.ts';
import type { SafetensorsDtype } from './dtypes.ts';

let float16Table: Float32Array | undefined;

/**
 * All 65536 float16 values as float32, indexed by bit pattern (256 KiB, built once): a table
 * lookup widens a multi-gigabyte checkpoint far faster than a per-element conversion.
 */
function float16ToFloat32Table(): Float32Array {
  if (float16Table === undefined) {
    const table = new Float32Array(65536);
    const view = new DataView(new ArrayBuffer(2));
    for (let bits = 0; bits < 65536; bits++) {
      view.setUint16(0, bits, true);
      table[bits] = getFloat16(view, 0, true);
    }
    float16Table = table;
  }
  return float16Table;
}

/** A Uint16Array over little-endian 16-bit elements, copying only when `bytes` is misaligned. */
function halfWords(bytes: Uint8Array): Uint16Array {
  if (bytes.byteLength % 2 !== 0) {
    throw new SdError('bad-argument', `A 16-bit tensor slice must have an even byte length, got ${bytes.byteLength}.`);
  }
  const aligned = bytes.byteOffset % 2 === 0 ? bytes : bytes.slice();
  return new Uint16Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 2);
}

/**
 * Widens little-endian float16 bytes to float32 (exact: every float16 is a float32).
 * @param bytes `2·n` bytes of IEEE half floats.
 * @param out optional destination of at least `n` elements (e.g. a view into a weights buffer).
 * @returns Float32Array [n]
 */
export function float16BytesToFloat32(bytes: Uint8Array, out?: Float32Array): Float32Array {
  const halves = halfWords(bytes);
  const result = out ?? new Float32Array(halves.length);
  const table = float16ToFloat32Table();
  for (let i = 0; i < halves.length; i++) result[i] = table[halves[i]!]!;
  return result;
}

/**
 * Widens little-endian bfloat16 bytes to float32 (exact: bfloat16 is the top half of a float32).
 * @returns Float32Array [n]
 */
export function bfloat16BytesToFloat32(bytes: Uint8Array, out?: Float32Array): Float32Array {
  const halves = halfWords(bytes);
  const result = out ?? new Float32Array(halves.length);
  const words = new Uint32Array(result.buffer, result.byteOffset, halves.length);
  for (let i = 0; i < halves.length; i++) words[i] = halves[i]! << 16;
  return result;
}

/**
 * Converts a slice of a floating-point tensor (F16, BF16 or F32 bytes) to float32 values.
 * @returns Float32Array [bytes / dtype size]
 */
export function floatBytesToFloat32(dtype: SafetensorsDtype, bytes: Uint8Array, out?: Float32Array): Float32Array {
  switch (dtype) {
    case 'F16':
      return float16BytesToFloat32(bytes, out);
    case 'BF16':
      return bfloat16BytesToFloat32(bytes, out);
    case 'F32': {
      const aligned = bytes.byteOffset % 4 === 0 ? bytes : bytes.slice();
      const src = new Float32Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 4);
      if (out === undefined) return src.slice();
      out.set(src);
      return out;
    }
    default:
      throw new SdError(
        'unsupported-model',
        `Cannot convert ${dtype} weights to float32. Expected one of: F16, BF16, F32.`,
      );
  }
}
