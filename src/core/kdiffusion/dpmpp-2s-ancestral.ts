// Port of k-diffusion 0.0.16 `sample_dpmpp_2s_ancestral` (A1111 "DPM++ 2S a"), η = 1, s_noise = 1:
// DPM-Solver++(2S) (Lu et al. 2022, arXiv:2211.01095) to σ_down, then fresh noise · σ_up.
import { combine } from '../schedulers/linear-combination.ts';
import { AncestralSecondOrderSampler } from './ancestral-second-order.ts';
import { addNoise, ancestralStep, type KSamplerOptions, type KStepInput } from './k-sampler.ts';

/** σ at the half step in t = -log σ between σ_i and σ_down: exp(-(t + h/2)). */
function halfSigma(sigma: number, down: number): number {
  return Math.exp(-(-Math.log(sigma) + 0.5 * (-Math.log(down) + Math.log(sigma))));
}

export class DpmPP2SAncestralSampler extends AncestralSecondOrderSampler {
  constructor(options: KSamplerOptions) {
    super(options, halfSigma);
  }

  protected advance({ call, x, denoised, shape, rng }: KStepInput): Float32Array {
    const sigma = this.sigma(call.step);
    const next = this.sigma(call.step + 1);
    const { down, up } = ancestralStep(sigma, next);
    const h = Math.log(sigma) - Math.log(down);
    let stepped: Float32Array;
    if (call.stage === 0 && down === 0) {
      // 1. σ_down = 0: Euler to 0, i.e. denoised
      stepped = combine([
        [0, x],
        [1, denoised],
      ]);
    } else if (call.stage === 0) {
      // 2. x_2 = (σ_s / σ_i) x - expm1(-h/2) · denoised: the second call's input
      this.firstX = x;
      return combine([
        [halfSigma(sigma, down) / sigma, x],
        [-Math.expm1(-h / 2), denoised],
      ]);
    } else {
      // 3. x = (σ_down / σ_i) x - expm1(-h) · denoised_2
      stepped = combine([
        [down / sigma, this.firstX!],
        [-Math.expm1(-h), denoised],
      ]);
    }
    // 4. fresh noise · σ_up unless this was the last step
    return next > 0 ? addNoise(stepped, up, shape, rng) : stepped;
  }
}
