import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TorchCpuGenerator } from '../../../src/core/rng/torch-cpu-generator.ts';
import { REFERENCE } from '../../fixtures.ts';

interface TorchRandnCase {
  seed: number;
  shape: number[];
  numel: number;
  sum: number;
  next3: number[];
  values?: number[];
  head?: number[];
  tail?: number[];
}

// Seeds above 2^53 lose digits in JSON.parse, so read them from the raw text (same order as the cases).
const rawText = readFileSync(resolve(REFERENCE, 'torch_randn.json'), 'utf8');
const reference = JSON.parse(rawText) as { cases: TorchRandnCase[] };
const exactSeeds = [...rawText.matchAll(/"seed":\s*(\d+)/g)].map((m) => BigInt(m[1]!));

/** The vector path's float32 log/sin/cos may differ from torch's SIMD approximations by an ulp or two. */
const VECTOR_TOLERANCE = 1e-6;

function expectClose(actual: ArrayLike<number>, expected: readonly number[], tolerance: number): void {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!));
  expect(worst).toBeLessThanOrEqual(tolerance);
}

describe('TorchCpuGenerator', () => {
  it('has one exact seed per reference case', () => {
    expect(exactSeeds).toHaveLength(reference.cases.length);
    expect(exactSeeds).toContain(9007199254740999n);
  });

  reference.cases.forEach((c, index) => {
    const seed = exactSeeds[index]!;
    it(`matches torch.randn for seed ${seed}, shape [${c.shape.join(', ')}]`, () => {
      const generator = new TorchCpuGenerator(seed);
      const values = generator.randn(c.shape);
      expect(values).toHaveLength(c.numel);
      // Fewer than 16 elements take torch's double-precision path, which we reproduce bit for bit.
      const tolerance = c.numel < 16 ? 0 : VECTOR_TOLERANCE;
      if (c.values) expectClose(values, c.values, tolerance);
      if (c.head) expectClose(values.subarray(0, c.head.length), c.head, tolerance);
      if (c.tail) expectClose(values.subarray(values.length - c.tail.length), c.tail, tolerance);
      let sum = 0;
      for (const v of values) sum += v;
      expect(Math.abs(sum - c.sum)).toBeLessThan(1e-3);
      // The next small draw continues the same stream (including a cached Box-Muller sample).
      expectClose(generator.randn([3]), c.next3, 0);
    });
  });

  it('accepts a number seed the same as a bigint seed', () => {
    expect(new TorchCpuGenerator(42).randn([20])).toEqual(new TorchCpuGenerator(42n).randn([20]));
  });

  it('uses only the low 32 bits of the seed, as torch does', () => {
    // 9007199254740999 = 2^53 + 7; the reference case above pins its stream to torch's.
    expect(new TorchCpuGenerator(9007199254740999n).randn([40])).toEqual(new TorchCpuGenerator(7n).randn([40]));
  });

  it('draws 65536 values (SDXL 1024px latents) quickly', () => {
    const generator = new TorchCpuGenerator(1n);
    generator.randn([1, 4, 128, 128]);
    const start = performance.now();
    generator.randn([1, 4, 128, 128]);
    expect(performance.now() - start).toBeLessThan(100);
  });

  it.each([-1n, 1n << 64n, -1, 1.5, Number.NaN])('rejects seed %s', (seed) => {
    expect(() => new TorchCpuGenerator(seed)).toThrow(
      expect.objectContaining({
        code: 'bad-argument',
        message: expect.stringMatching(new RegExp(`Bad seed ${String(seed)}:.*2\\^64-1`)),
      }),
    );
  });

  it('rejects a bad shape', () => {
    expect(() => new TorchCpuGenerator(0n).randn([2, -1])).toThrow(/-1/);
  });
});
