// Port of k-diffusion 0.0.16 `sample_lms` (A1111 "LMS"): linear multistep of order 4 in σ, each coefficient
// the integral of a Lagrange basis polynomial over [σ_i, σ_{i+1}] (`linear_multistep_coeff`).
import { lmsCoefficient } from '../schedulers/lms-coefficient.ts';
import { combine, type Term } from '../schedulers/linear-combination.ts';
import { derivative, firstOrderCalls, KSampler, type KSamplerOptions, type KStepInput } from './k-sampler.ts';

/**
 * `linear_multistep_coeff(order, t, i, j)`: ∫_{t_i}^{t_{i+1}} Π_{k≠j} (τ - t_{i-k}) / (t_{i-j} - t_{i-k}) dτ.
 * k-diffusion integrates with scipy's `quad` (adaptive Gauss–Kronrod), which is exact to float64 rounding
 * for these polynomials of degree < 4, as is the Gauss–Legendre rule both LMS samplers share.
 */
export function linearMultistepCoeff(order: number, t: ArrayLike<number>, i: number, j: number): number {
  if (order - 1 > i) throw new RangeError(`Order ${order} too high for step ${i}`);
  return lmsCoefficient((k) => t[k] as number, order, i, j);
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
