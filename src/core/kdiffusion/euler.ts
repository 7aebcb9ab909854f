// Port of k-diffusion 0.0.16 `sample_euler` (A1111 "Euler"), s_churn = 0: Karras et al. (2022), Algorithm 2 with Euler steps.
import { combine } from '../schedulers/linear-combination.ts';
import { firstOrderCalls, KSampler, type KSamplerOptions, type KStepInput } from './k-sampler.ts';

export class EulerSampler extends KSampler {
  constructor(options: KSamplerOptions) {
    super(options, firstOrderCalls(options.sigmas));
  }

  protected advance({ call, x, denoised }: KStepInput): Float32Array {
    const sigma = this.sigma(call.step);
    // 1. d = (x - denoised) / σ_i;  2. x + d · (σ_{i+1} - σ_i)
    const ratio = (this.sigma(call.step + 1) - sigma) / sigma;
    return combine([
      [1 + ratio, x],
      [-ratio, denoised],
    ]);
  }
}
