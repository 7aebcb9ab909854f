// Port of k-diffusion 0.0.16 `sample_dpmpp_2m` (A1111 "DPM++ 2M"): DPM-Solver++(2M), Lu et al. (2022),
// arXiv:2211.01095, in t = -log σ.
import { combine } from '../schedulers/linear-combination.ts';
import { firstOrderCalls, KSampler, type KSamplerOptions, type KStepInput } from './k-sampler.ts';

export class DpmPP2MSampler extends KSampler {
  private oldDenoised: Float32Array | undefined;

  constructor(options: KSamplerOptions) {
    super(options, firstOrderCalls(options.sigmas));
  }

  protected advance({ call, x, denoised }: KStepInput): Float32Array {
    const i = call.step;
    const sigma = this.sigma(i);
    const next = this.sigma(i + 1);
    const old = this.oldDenoised;
    this.oldDenoised = denoised;
    // 1. σ_{i+1} = 0: the step lands on denoised (σ_fn(∞) = 0, expm1(-∞) = -1)
    if (next === 0) return combine([[1, denoised]]);
    const h = Math.log(sigma) - Math.log(next);
    const decay = -Math.expm1(-h);
    // 2. first step: DPM-Solver++(1); 3. later: denoised_d = (1 + 1/2r) denoised - (1/2r) old, r = h_last / h
    if (!old) {
      return combine([
        [next / sigma, x],
        [decay, denoised],
      ]);
    }
    const hLast = Math.log(this.sigma(i - 1)) - Math.log(sigma);
    const half = 1 / (2 * (hLast / h));
    return combine([
      [next / sigma, x],
      [decay * (1 + half), denoised],
      [-decay * half, old],
    ]);
  }
}
