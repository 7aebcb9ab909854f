import { describe, expect, it } from 'vitest';
import { PhiloxGenerator } from '../../../src/core/rng/philox-generator.ts';
import { readReferenceJson } from '../../fixtures.ts';

interface PhiloxCase {
  seed: number;
  shape: number[];
  first_call: number[];
  second_call: number[];
  shape_4x64x64: { head: number[]; tail: number[]; sum: number };
}

const reference = readReferenceJson<{ cases: PhiloxCase[] }>('philox_randn.json');

/** A1111 rounds each float64 Box-Muller result to float32 once, as we do. */
const TOLERANCE = 1e-7;

function worstError(actual: ArrayLike<number>, expected: readonly number[]): number {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!));
  return worst;
}

describe('PhiloxGenerator', () => {
  for (const c of reference.cases) {
    it(`matches A1111's two successive draws for seed ${c.seed}`, () => {
      const generator = new PhiloxGenerator(BigInt(c.seed));
      expect(worstError(generator.randn(c.shape), c.first_call)).toBeLessThanOrEqual(TOLERANCE);
      expect(worstError(generator.randn(c.shape), c.second_call)).toBeLessThanOrEqual(TOLERANCE);
    });

    it(`matches A1111's [4, 64, 64] draw for seed ${c.seed}`, () => {
      const values = new PhiloxGenerator(c.seed).randn([4, 64, 64]);
      const { head, tail, sum } = c.shape_4x64x64;
      expect(worstError(values.subarray(0, head.length), head)).toBeLessThanOrEqual(TOLERANCE);
      expect(worstError(values.subarray(values.length - tail.length), tail)).toBeLessThanOrEqual(TOLERANCE);
      let total = 0;
      for (const v of values) total += v;
      expect(Math.abs(total - sum)).toBeLessThan(1e-3);
    });
  }

  it('uses the high seed word as part of the key', () => {
    const low = new PhiloxGenerator(5n).randn([8]);
    const high = new PhiloxGenerator(5n + (1n << 32n)).randn([8]);
    expect(high).not.toEqual(low);
  });

  it.each([-1n, 1n << 64n, 0.5])('rejects seed %s', (seed) => {
    expect(() => new PhiloxGenerator(seed)).toThrow(expect.objectContaining({ code: 'bad-argument' }));
  });
});
