/** Elementwise linear combinations of latents, the one array operation the alpha-based schedulers need. */
import { SdError } from '../errors.ts';

/** A latent-sized array and its coefficient in a linear combination. */
export type Term = readonly [coefficient: number, values: ArrayLike<number>];

/**
 * sum_k c_k * v_k elementwise, accumulated in float64 and stored as float32 (the coefficients are
 * scalars diffusers computes from float32 sigmas; here they stay float64).
 */
export function combine(terms: readonly Term[]): Float32Array {
  const first = terms[0];
  if (first === undefined) throw new SdError('internal', 'combine() needs at least one term.');
  const n = first[1].length;
  const acc = new Float64Array(n);
  for (const [c, v] of terms) {
    if (c === 0) continue;
    for (let i = 0; i < n; i++) acc[i] = (acc[i] as number) + c * (v[i] as number);
  }
  return Float32Array.from(acc);
}
