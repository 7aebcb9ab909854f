import { describe, expect, it } from 'vitest';
import { addLoraDelta, fitsWeight } from '../../../src/core/lora/lora-delta.ts';
import { ramp } from './lora-fixture.ts';

/** W + scale · up @ down written out as sums, for a weight [out, rest]. */
function direct(w: number[], up: number[], down: number[], rank: number, scale: number): number[] {
  const rest = down.length / rank;
  return w.map((v, idx) => {
    const o = Math.floor(idx / rest);
    const i = idx % rest;
    let s = 0;
    for (let r = 0; r < rank; r++) s += up[o * rank + r]! * down[r * rest + i]!;
    return Math.fround(v + scale * s);
  });
}

describe('addLoraDelta', () => {
  it('adds multiplier · alpha/rank · up @ down to a linear weight', () => {
    const [out, inn, rank] = [5, 7, 3];
    const w = ramp(out * inn, 1);
    const up = ramp(out * rank, 0.5, 1);
    const down = ramp(rank * inn, 0.5, 2);
    const scale = (0.8 * 2) / rank;
    const weight = new Float32Array(w);
    addLoraDelta(weight, new Float32Array(up), new Float32Array(down), rank, scale);
    const expected = direct(
      [...new Float32Array(w)],
      [...new Float32Array(up)],
      [...new Float32Array(down)],
      rank,
      scale,
    );
    for (let i = 0; i < expected.length; i++) expect(weight[i]).toBeCloseTo(expected[i]!, 6);
  });

  it('builds a LoCon 3x3 update from a 3x3 down kernel and a 1x1 up, as A1111 does', () => {
    const [out, inn, rank] = [4, 3, 2];
    const rest = inn * 9;
    const w = ramp(out * rest, 1);
    const up = ramp(out * rank, 0.5, 1);
    const down = ramp(rank * rest, 0.5, 2);
    const weight = new Float32Array(w);
    addLoraDelta(weight, new Float32Array(up), new Float32Array(down), rank, 0.5);
    const expected = direct(
      [...new Float32Array(w)],
      [...new Float32Array(up)],
      [...new Float32Array(down)],
      rank,
      0.5,
    );
    for (let i = 0; i < expected.length; i++) expect(weight[i]).toBeCloseTo(expected[i]!, 6);
    expect(fitsWeight([out, rank, 1, 1], [rank, inn, 3, 3], [out, inn, 3, 3])).toBe(true);
    expect(fitsWeight([out, rank, 1, 1], [rank, inn, 3, 3], [out, inn, 1, 1])).toBe(false);
    expect(fitsWeight([out, rank], [rank, inn], [out + 1, inn])).toBe(false);
  });

  it('refuses factors that do not make the weight', () => {
    expect(() => addLoraDelta(new Float32Array(6), new Float32Array(4), new Float32Array(4), 2, 1)).toThrow(RangeError);
  });
});
