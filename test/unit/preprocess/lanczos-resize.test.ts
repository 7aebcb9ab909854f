import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resizeRgb } from '../../../src/core/pipeline/image.ts';
import { decodePng } from '../../../src/core/png/png.ts';
import { lanczosResize } from '../../../src/core/preprocess/lanczos-resize.ts';
import { FIXTURES } from '../../fixtures.ts';

// Pillow 12.3 `Image.open(input).convert('RGB').resize((W, H), Image.LANCZOS)` of the Canny fixture's
// input image, saved as PNG: what diffusers' image processor feeds the pipeline for another size.
const REFERENCES = resolve(import.meta.dirname, 'pil-lanczos');
const SOURCE = resolve(FIXTURES, 'single-file', 'canny', 'canny-100-200.input.png');

function readPng(path: string) {
  return decodePng(new Uint8Array(readFileSync(path)));
}

describe('lanczosResize', () => {
  const source = readPng(SOURCE);
  const references = readdirSync(REFERENCES)
    .filter((f) => f.endsWith('.png'))
    .sort();

  it('has Pillow references that shrink and enlarge each axis', () => {
    const sizes = references.map((f) => readPng(resolve(REFERENCES, f)));
    expect(sizes.some((s) => s.width < source.width)).toBe(true);
    expect(sizes.some((s) => s.width > source.width)).toBe(true);
    expect(sizes.some((s) => s.height < source.height)).toBe(true);
    expect(sizes.some((s) => s.height > source.height)).toBe(true);
  });

  it.each(references)('equals Pillow LANCZOS on every byte: %s', (file) => {
    const ref = readPng(resolve(REFERENCES, file));
    const out = lanczosResize(source.rgb, source.width, source.height, ref.width, ref.height);
    expect(out.length).toBe(ref.rgb.length);
    let differ = 0;
    out.forEach((v, i) => {
      if (v !== ref.rgb[i]) differ++;
    });
    expect(differ).toBe(0);
  });

  it('keeps a constant image constant, including at the borders', () => {
    const flat = new Uint8Array(13 * 7 * 3).fill(200);
    const out = lanczosResize(flat, 13, 7, 40, 3);
    expect(out.length).toBe(40 * 3 * 3);
    expect([...new Set(out)]).toEqual([200]);
  });

  it('handles one channel and leaves an unchanged axis untouched', () => {
    const gray = Uint8Array.from({ length: 6 * 4 }, (_, i) => (i * 37) % 256);
    const wider = lanczosResize(gray, 6, 4, 9, 4, 1);
    expect(wider.length).toBe(9 * 4);
    // same height: every column of the result is resampled from its row alone
    const rowOnly = lanczosResize(gray.slice(0, 6), 6, 1, 9, 1, 1);
    expect([...wider.slice(0, 9)]).toEqual([...rowOnly]);
  });

  it('returns a copy for the same size, and resizeRgb returns the input itself', () => {
    const rgb = Uint8Array.from({ length: 2 * 2 * 3 }, (_, i) => i);
    const same = lanczosResize(rgb, 2, 2, 2, 2);
    expect(same).not.toBe(rgb);
    expect([...same]).toEqual([...rgb]);
    expect(resizeRgb(rgb, 2, 2, 2, 2)).toBe(rgb);
  });

  it('is what resizeRgb uses for another size', () => {
    const ref = readPng(resolve(REFERENCES, references[0]!));
    expect([...resizeRgb(source.rgb, source.width, source.height, ref.width, ref.height)]).toEqual([...ref.rgb]);
  });
});
