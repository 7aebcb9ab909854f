import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { rgbToVaeInput, unitToByte, vaeOutputToRgb } from '../../../src/core/pipeline/image.ts';
import { CASES_DIR, loadCases, referencePng } from '../../oracle/cases.ts';

/** A float32 .npy file (little endian, C order). */
function readNpy(path: string): Float32Array {
  const bytes = readFileSync(path);
  const headerLength = bytes.readUInt16LE(8);
  expect(bytes.toString('latin1', 10, 10 + headerLength)).toContain("'descr': '<f4'");
  const data = bytes.subarray(10 + headerLength);
  return new Float32Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
}

describe('unitToByte', () => {
  it.each(loadCases().map((c) => [c.id, c] as const))(
    'turns the float image of %s into its reference PNG exactly',
    (_, c) => {
      const floats = readNpy(resolve(CASES_DIR, `${c.id}.npy`));
      const png = referencePng(c);
      expect(floats.length).toBe(png.rgb.length);
      const ours = Uint8Array.from(floats, unitToByte);
      expect(Buffer.from(ours).equals(Buffer.from(png.rgb))).toBe(true);
    },
  );

  it('rounds halves to even, as numpy does', () => {
    expect(unitToByte(0.5 / 255)).toBe(0);
    expect(unitToByte(1.5 / 255)).toBe(2);
    expect(unitToByte(-1)).toBe(0);
    expect(unitToByte(2)).toBe(255);
    expect(unitToByte(Number.NaN)).toBe(0);
  });
});

describe('VAE image conversions', () => {
  it('maps VAE output [3, H, W] in [-1, 1] to RGB [H, W, 3]', () => {
    // 2x1 image: channel planes R = [-1, 1], G = [0, 0], B = [1, -1]
    const chw = Float32Array.of(-1, 1, 0, 0, 1, -1);
    expect(Array.from(vaeOutputToRgb(chw, 2, 1))).toEqual([0, 128, 255, 255, 128, 0]);
  });

  it('maps RGB [H, W, 3] to VAE input [3, H, W] in [-1, 1]', () => {
    const x = rgbToVaeInput(Uint8Array.of(0, 255, 51, 255, 0, 204), 2, 1);
    expect(Array.from(x)).toEqual([
      -1,
      1,
      1,
      -1,
      Math.fround(Math.fround(2 * Math.fround(51 / 255)) - 1),
      Math.fround(Math.fround(2 * Math.fround(204 / 255)) - 1),
    ]);
  });
});
