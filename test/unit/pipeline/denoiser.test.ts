import { describe, expect, it } from 'vitest';
import { guidanceEmbedding, sdxlTimeIds } from '../../../src/core/pipeline/denoiser.ts';

describe('guidanceEmbedding (LCM timestep_cond)', () => {
  it('embeds w = cfg - 1: cfg 1 gives sin 0 and cos 1 everywhere', () => {
    const e = guidanceEmbedding(1, 256);
    expect(e).toHaveLength(256);
    expect(Array.from(e.subarray(0, 128)).every((v) => v === 0)).toBe(true);
    expect(Array.from(e.subarray(128)).every((v) => v === 1)).toBe(true);
  });

  it('starts at the lowest frequency 1: sin and cos of (cfg - 1) * 1000', () => {
    const e = guidanceEmbedding(8, 256);
    expect(e[0]).toBe(Math.fround(Math.sin(7000)));
    expect(e[128]).toBe(Math.fround(Math.cos(7000)));
    // frequencies fall geometrically to 1 / 10000 at the last sine
    expect(e[127]).toBeCloseTo(Math.sin(0.7), 5);
  });

  it('pads an odd dimension with one zero', () => {
    const e = guidanceEmbedding(4, 255);
    expect(e).toHaveLength(255);
    expect(e[254]).toBe(0);
    expect(e[127]).toBeCloseTo(Math.cos(3000), 3);
  });
});

describe('sdxlTimeIds', () => {
  it('is original size, crop (0, 0), target size, height first', () => {
    expect(Array.from(sdxlTimeIds(128, 64, false, false))).toEqual([64, 128, 0, 0, 64, 128]);
    expect(Array.from(sdxlTimeIds(128, 64, false, true))).toEqual([64, 128, 0, 0, 64, 128]);
  });

  it('ends in the aesthetic score for refiner UNets: 6 for the prompt, 2.5 for the negative', () => {
    expect(Array.from(sdxlTimeIds(1024, 768, true, false))).toEqual([768, 1024, 0, 0, 6]);
    expect(Array.from(sdxlTimeIds(1024, 768, true, true))).toEqual([768, 1024, 0, 0, 2.5]);
  });
});
