// Seeds as A1111 handles them: parsing, random picks, per-image seeds of a batch, and the generator choice.
import { SdError } from '../errors.ts';
import { PhiloxGenerator } from './philox-generator.ts';
import type { RandomSource } from './random-source.ts';
import { MAX_SEED, TorchCpuGenerator, checkSeed } from './torch-cpu-generator.ts';

/** Which noise A1111 would draw: `cpu` = torch's CPU generator, `gpu` = its Philox imitation of CUDA's. */
export type RandomSourceKind = 'cpu' | 'gpu';

/** A1111 picks random seeds with `random.randrange(4294967294)`, i.e. below this bound. */
const RANDOM_SEED_BOUND = 4294967294;

/**
 * Reads a seed given as a bigint, a safe integer or a decimal string (surrounding spaces allowed).
 * @returns the seed, 0..2^64-1.
 * @throws SdError 'bad-argument' naming the value and the allowed range.
 */
export function parseSeed(value: string | number | bigint): bigint {
  if (typeof value !== 'string') return checkSeed(value);
  const text = value.trim();
  if (!/^\d+$/.test(text)) {
    throw new SdError(
      'bad-argument',
      `Bad seed "${value}": expected a whole decimal number from 0 to ${MAX_SEED} (2^64-1).`,
    );
  }
  return checkSeed(BigInt(text));
}

/** A fresh random seed in 0..4294967293, the range A1111 draws from when the seed is left at -1. */
export function randomSeed(): bigint {
  return BigInt(Math.floor(Math.random() * RANDOM_SEED_BOUND));
}

/**
 * The seeds of a batch: A1111 gives image i the seed `seed + i`.
 * @throws SdError 'bad-argument' when the last one would pass 2^64-1.
 */
export function batchSeeds(seed: bigint, count: number): bigint[] {
  const seeds: bigint[] = [];
  for (let i = 0; i < count; i++) seeds.push(checkSeed(seed + BigInt(i)));
  return seeds;
}

/**
 * The noise generator for one image: `cpu` reproduces torch's CPU `randn`, `gpu` A1111's Philox ("NV")
 * imitation of CUDA `randn`. Use one source per image, seeded with that image's batch seed.
 */
export function createRandomSource(kind: RandomSourceKind, seed: bigint): RandomSource {
  switch (kind) {
    case 'cpu':
      return new TorchCpuGenerator(seed);
    case 'gpu':
      return new PhiloxGenerator(seed);
    default:
      throw new SdError('bad-argument', `Unknown random source "${String(kind)}". Expected one of: cpu, gpu.`);
  }
}
