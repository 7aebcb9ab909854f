import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodePng } from '../../../src/core/png/png.ts';
import { canny } from '../../../src/core/preprocess/canny.ts';
import { INVERT, NONE, parsePreprocessor } from '../../../src/core/preprocess/preprocessor.ts';
import { FIXTURES } from '../../fixtures.ts';

const CANNY = resolve(FIXTURES, 'single-file', 'canny');
const cases = readdirSync(CANNY)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map(
    (f) =>
      JSON.parse(readFileSync(resolve(CANNY, f), 'utf8')) as {
        id: string;
        low_threshold: number;
        high_threshold: number;
      },
  );

describe('canny', () => {
  it.each(cases)('$id equals cv2.Canny(rgb, low, high) on every pixel', (c) => {
    const input = decodePng(new Uint8Array(readFileSync(resolve(CANNY, `${c.id}.input.png`))));
    const ref = decodePng(new Uint8Array(readFileSync(resolve(CANNY, `${c.id}.png`))));
    const edges = canny(input.rgb, input.width, input.height, c.low_threshold, c.high_threshold);
    let differ = 0;
    edges.forEach((v, i) => {
      if (v !== ref.rgb[i * 3]) differ++;
    });
    expect(differ).toBe(0);
    expect(edges.some((v) => v === 255)).toBe(true);
  });

  it('keeps edges whose chain touches a strong pixel, drops isolated weak ones, never marks the border-less flat image', () => {
    const width = 8;
    const height = 8;
    const rgb = new Uint8Array(width * height * 3);
    // a vertical step between columns 3 and 4
    for (let y = 0; y < height; y++)
      for (let x = 4; x < width; x++) rgb.fill(200, (y * width + x) * 3, (y * width + x) * 3 + 3);
    const edges = canny(rgb, width, height, 100, 200);
    // |dx| = 4 * 200 = 800 at columns 3 and 4: the first (strict >) of the two equal maxima is kept
    for (let y = 0; y < height; y++) {
      expect(Array.from(edges.subarray(y * width, (y + 1) * width))).toEqual([0, 0, 0, 255, 0, 0, 0, 0]);
    }
    expect(canny(rgb, width, height, 900, 1000).every((v) => v === 0)).toBe(true);
    expect(canny(new Uint8Array(27), 3, 3, 0, 0).every((v) => v === 0)).toBe(true);
  });
});

describe('preprocessors', () => {
  const image = { rgb: Uint8Array.of(0, 10, 255), width: 1, height: 1 };
  it('parses canny:LOW:HIGH, canny (A1111 defaults), invert and none', async () => {
    expect(parsePreprocessor('canny:50:120').id).toBe('canny:50:120');
    expect(parsePreprocessor('canny').id).toBe('canny:100:200');
    expect(Array.from((await INVERT.run(image)).rgb)).toEqual([255, 245, 0]);
    expect(await NONE.run(image)).toBe(image);
    expect(parsePreprocessor('invert')).toBe(INVERT);
  });
  it('refuses unknown names and bad thresholds, naming what is allowed', () => {
    expect(() => parsePreprocessor('depth')).toThrow(/Unknown preprocessor "depth". Expected one of: canny:LOW:HIGH/);
    expect(() => parsePreprocessor('canny:a:200')).toThrow(/Canny low threshold NaN is not allowed/);
    expect(() => parsePreprocessor('canny:100')).toThrow(/Unknown preprocessor/);
  });
});
