import { describe, expect, it } from 'vitest';
import { isSdError } from '../../../src/core/errors.ts';
import { PhiloxGenerator } from '../../../src/core/rng/philox-generator.ts';
import { batchSeeds, createRandomSource, parseSeed, randomSeed } from '../../../src/core/rng/seed.ts';
import { TorchCpuGenerator } from '../../../src/core/rng/torch-cpu-generator.ts';
import { readReferenceJson } from '../../fixtures.ts';

function errorOf(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

describe('parseSeed', () => {
  it('accepts integers 0..2^64-1 as bigint, number or decimal string', () => {
    expect(parseSeed(0)).toBe(0n);
    expect(parseSeed(1234)).toBe(1234n);
    expect(parseSeed(' 42 ')).toBe(42n);
    expect(parseSeed('18446744073709551615')).toBe(18446744073709551615n);
    expect(parseSeed(9007199254740999n)).toBe(9007199254740999n);
  });

  it.each(['-1', '18446744073709551616', '1e5', '12abc', '', '0x10', -1, 2.5, Number.POSITIVE_INFINITY, -5n])(
    'rejects %s naming the value and the range',
    (value) => {
      const error = errorOf(() => parseSeed(value));
      expect(isSdError(error, 'bad-argument')).toBe(true);
      expect((error as Error).message).toContain(String(value));
      expect((error as Error).message).toContain('18446744073709551615');
    },
  );
});

describe('randomSeed', () => {
  it('stays in A1111 range 0..4294967293', () => {
    for (let i = 0; i < 100; i++) {
      const seed = randomSeed();
      expect(seed >= 0n && seed < 4294967294n).toBe(true);
    }
  });
});

describe('batchSeeds', () => {
  it('gives image i the seed seed+i', () => {
    expect(batchSeeds(10n, 3)).toEqual([10n, 11n, 12n]);
  });

  it('refuses to pass 2^64-1', () => {
    expect(
      isSdError(
        errorOf(() => batchSeeds((1n << 64n) - 1n, 2)),
        'bad-argument',
      ),
    ).toBe(true);
  });
});

describe('createRandomSource', () => {
  it('picks the torch CPU generator or the Philox generator', () => {
    expect(createRandomSource('cpu', 1n)).toBeInstanceOf(TorchCpuGenerator);
    expect(createRandomSource('gpu', 1n)).toBeInstanceOf(PhiloxGenerator);
    const philox = readReferenceJson<{ cases: { seed: number; first_call: number[] }[] }>('philox_randn.json');
    const first = philox.cases[0]!;
    const values = createRandomSource('gpu', BigInt(first.seed)).randn([4, 8, 8]);
    expect(values[0]).toBeCloseTo(first.first_call[0]!, 6);
  });

  it('rejects an unknown kind', () => {
    const error = errorOf(() => createRandomSource('tpu' as 'cpu', 1n));
    expect(isSdError(error, 'bad-argument')).toBe(true);
    expect((error as Error).message).toContain('tpu');
  });
});
