// AUTOMATIC1111's per-image noise generator (modules/rng.py `ImageRNG`): the first draw (the starting noise)
// comes from the image's seed; with "Eta noise seed delta" (ENSD) every later draw (the ancestral samplers'
// noise) comes from a generator re-seeded with seed + delta.
import type { RandomSource } from './random-source.ts';
import { createRandomSource, type RandomSourceKind } from './seed.ts';

/**
 * One image's generator as A1111 draws from it.
 * @param delta ENSD; 0 keeps drawing from the first generator
 */
export function createImageRng(kind: RandomSourceKind, seed: bigint, delta: number): RandomSource {
  const first = createRandomSource(kind, seed);
  if (delta === 0) return first;
  let current: RandomSource | undefined;
  return {
    randn(shape) {
      if (current) return current.randn(shape);
      const values = first.randn(shape);
      current = createRandomSource(kind, seed + BigInt(delta));
      return values;
    },
  };
}
