// Port of k-diffusion 0.0.16 `sample_lms` (A1111 "LMS"): linear multistep of order 4 in σ, each coefficient
// the integral of a Lagrange basis polynomial over [σ_i, σ_{i+1}] (`linear_multistep_coeff`).
import { combine, type Term } from '../schedulers/linear-combination.ts';
import { derivative, firstOrderCalls, KSampler, type KSamplerOptions, type KStepInput } from './k-sampler.ts';

/** 5-point Gauss–Legendre nodes and weights on [-1, 1]: exact for the polynomials (degree ≤ 3) integrated here. */
const NODES = [0, -0.5384693101056831, 0.5384693101056831, -0.906179845938664, 0.906179845938664];
const WEIGHTS = [
  0.5688888888888889, 0.47862867049936647, 0.47862867049936647, 0.23692688505618908, 0.23692688505618908,
];

/**
 * `linear_multistep_coeff(order, t, i, j)`: ∫_{t_i}^{t_{i+1}} Π_{k≠j} (τ - t_{i-k}) / (t_{i-j} - t_{i-k}) dτ.
 * k-diffusion integrates with scipy's `quad` (adaptive Gauss–Kronrod), which is exact to float64 rounding
 * for these polynomials of degree < 4; Gauss–Legendre of 5 points is exact for them too.
 */
export function linearMultistepCoeff(order: number, t: ArrayLike<number>, i: number, j: number): number {
  if (order - 1 > i) throw new RangeError(`Order ${order} too high for step ${i}`);
  const at = (k: number): number => t[k] as number;
  const basis = (tau: number): number => {
    let prod = 1;
    for (let k = 0; k < order; k++) {
      if (k === j) continue;
      prod *= (tau - at(i - k)) / (at(i - j) - at(i - k));
    }
    return prod;
  };
  const a = at(i);
  const b = at(i + 1);
  const half = (b - a) / 2;
  const mid = (a + b) / 2;
  let sum = 0;
  NODES.forEach((x, n) => (sum += (WEIGHTS[n] as number) * basis(mid + half * x)));
  return sum * half;
}

export class LmsSampler extends KSampler {
  /** The derivatives of the last `order` steps, oldest first. */
  private readonly ds: Float32Array[] = [];

  constructor(
    options: KSamplerOptions,
    private readonly maxOrder = 4,
  ) {
    super(options, firstOrderCalls(options.sigmas));
  }

  protected advance({ call, x, denoised }: KStepInput): Float32Array {
    const i = call.step;
    // 1. d = to_d(x, σ_i), kept with the last (order - 1) ones
    this.ds.push(derivative(x, denoised, this.sigma(i)));
    if (this.ds.length > this.maxOrder) this.ds.shift();
    // 2. x + Σ_j c_j · d_{i-j}
    const order = Math.min(i + 1, this.maxOrder);
    const terms: Term[] = [[1, x]];
    for (let j = 0; j < order; j++) {
      terms.push([linearMultistepCoeff(order, this.sigmas, i, j), this.ds[this.ds.length - 1 - j]!]);
    }
    return combine(terms);
  }
}
