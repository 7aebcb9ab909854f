import { describe, expect, it } from 'vitest';
import {
  bfloat16BytesToFloat32,
  float16BytesToFloat32,
  floatBytesToFloat32,
} from '../../../src/core/safetensors/widen.ts';

function u16Bytes(words: number[]): Uint8Array {
  return new Uint8Array(new Uint16Array(words).buffer);
}

describe('float widening', () => {
  it('float16 → float32 exactly, including subnormals, infinities and NaN', () => {
    // 1, -2, 65504 (max), 2^-24 (smallest subnormal), 2^-14 (smallest normal), -0, +inf, NaN
    const out = float16BytesToFloat32(u16Bytes([0x3c00, 0xc000, 0x7bff, 0x0001, 0x0400, 0x8000, 0x7c00, 0x7e00]));
    expect([...out.slice(0, 5)]).toEqual([1, -2, 65504, 2 ** -24, 2 ** -14]);
    expect(Object.is(out[5], -0)).toBe(true);
    expect(out[6]).toBe(Infinity);
    expect(out[7]).toBeNaN();
  });

  it('bfloat16 → float32 is the top half of the float32 bits', () => {
    const out = bfloat16BytesToFloat32(u16Bytes([0x3f80, 0xc040, 0x3eaa]));
    expect([...out.slice(0, 2)]).toEqual([1, -3]);
    expect(out[2]).toBe(new Float32Array(new Uint32Array([0x3eaa0000]).buffer)[0]);
  });

  it('handles misaligned slices and writes into a destination view', () => {
    const bytes = new Uint8Array(7);
    bytes.set(u16Bytes([0x3c00, 0x4000, 0x4200]), 1);
    const out = new Float32Array(5);
    floatBytesToFloat32('F16', bytes.subarray(1), out.subarray(1, 4));
    expect([...out]).toEqual([0, 1, 2, 3, 0]);
    const f32 = new Uint8Array(9);
    f32.set(new Uint8Array(new Float32Array([1.5, -4]).buffer), 1);
    expect([...floatBytesToFloat32('F32', f32.subarray(1))]).toEqual([1.5, -4]);
  });

  it('refuses dtypes that are not floats', () => {
    expect(() => floatBytesToFloat32('I64', new Uint8Array(8))).toThrow(
      /Cannot convert I64 weights to float32. Expected one of: F16, BF16, F32/,
    );
  });
});
