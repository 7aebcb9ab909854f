// Port of k-diffusion 0.0.16 `sample_dpm_2_ancestral` (A1111 "DPM2 a"), η = 1, s_noise = 1: DPM-Solver-2 to
// σ_down, then fresh noise · σ_up.
import { combine } from '../schedulers/linear-combination.ts';
import { logMidpoint } from './dpm2.ts';
import { AncestralSecondOrderSampler } from './ancestral-second-order.ts';
import { addNoise, ancestralStep, derivative, type KSamplerOptions, type KStepInput } from './k-sampler.ts';

export class Dpm2AncestralSampler extends AncestralSecondOrderSampler {
  constructor(options: KSamplerOptions) {
    super(options, logMidpoint);
  }

  protected advance({ call, x, denoised, shape, rng }: KStepInput): Float32Array {
    const sigma = this.sigma(call.step);
    const { down, up } = ancestralStep(sigma, this.sigma(call.step + 1));
    if (call.stage === 0) {
      // 1. d = to_d(x, σ_i);  2. σ_down = 0: Euler to 0 (no noise); else Euler to σ_mid (the second call's input)
      const d = derivative(x, denoised, sigma);
      const to = down === 0 ? 0 : logMidpoint(sigma, down);
      if (down !== 0) this.firstX = x;
      return combine([
        [1, x],
        [to - sigma, d],
      ]);
    }
    // 3. d_2 = to_d(x_2, σ_mid);  4. x + d_2 · (σ_down - σ_i);  5. fresh noise · σ_up
    const d2 = derivative(x, denoised, call.sigma);
    const stepped = combine([
      [1, this.firstX!],
      [down - sigma, d2],
    ]);
    return addNoise(stepped, up, shape, rng);
  }
}
