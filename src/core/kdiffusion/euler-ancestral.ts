// Port of k-diffusion 0.0.16 `sample_euler_ancestral` (A1111 "Euler a"), η = 1, s_noise = 1.
import {
  addNoise,
  ancestralStep,
  firstOrderCalls,
  KSampler,
  type KSamplerOptions,
  type KStepInput,
} from './k-sampler.ts';
import { combine } from '../schedulers/linear-combination.ts';

export class EulerAncestralSampler extends KSampler {
  constructor(options: KSamplerOptions) {
    super(options, firstOrderCalls(options.sigmas));
  }

  protected advance({ call, x, denoised, shape, rng }: KStepInput): Float32Array {
    const sigma = this.sigma(call.step);
    const next = this.sigma(call.step + 1);
    // 1. σ_down, σ_up;  2. Euler step to σ_down;  3. fresh noise · σ_up unless this was the last step
    const { down, up } = ancestralStep(sigma, next);
    const ratio = (down - sigma) / sigma;
    const stepped = combine([
      [1 + ratio, x],
      [-ratio, denoised],
    ]);
    return next > 0 ? addNoise(stepped, up, shape, rng) : stepped;
  }
}
