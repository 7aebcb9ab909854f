// Port of k-diffusion 0.0.16 `sample_dpm_2` (A1111 "DPM2"), s_churn = 0: DPM-Solver-2 steps (Lu et al. 2022)
// inside Karras et al.'s Algorithm 2; the midpoint is the geometric mean of σ_i and σ_{i+1}.
import { combine } from '../schedulers/linear-combination.ts';
import { f32 } from './float32.ts';
import { derivative, KSampler, secondOrderCalls, type KSamplerOptions, type KStepInput } from './k-sampler.ts';

/** `sigma.log().lerp(next.log(), 0.5).exp()` in float32. */
export function logMidpoint(sigma: number, next: number): number {
  const a = f32(Math.log(sigma));
  const b = f32(Math.log(next));
  return f32(Math.exp(f32(a + f32(0.5 * f32(b - a)))));
}

export class Dpm2Sampler extends KSampler {
  private firstX: Float32Array | undefined;

  constructor(options: KSamplerOptions) {
    const { sigmas } = options;
    super(
      options,
      secondOrderCalls(sigmas, (i) =>
        sigmas[i + 1] === 0 ? undefined : logMidpoint(sigmas[i] as number, sigmas[i + 1] as number),
      ),
    );
  }

  protected advance({ call, x, denoised }: KStepInput): Float32Array {
    const sigma = this.sigma(call.step);
    const next = this.sigma(call.step + 1);
    if (call.stage === 0) {
      // 1. d = to_d(x, σ_i);  2. σ_{i+1} = 0: Euler to 0; else Euler to σ_mid (the second call's input)
      const d = derivative(x, denoised, sigma);
      const to = next === 0 ? 0 : logMidpoint(sigma, next);
      if (next !== 0) this.firstX = x;
      return combine([
        [1, x],
        [to - sigma, d],
      ]);
    }
    // 3. d_2 = to_d(x_2, σ_mid);  4. x + d_2 · (σ_{i+1} - σ_i)
    const d2 = derivative(x, denoised, call.sigma);
    return combine([
      [1, this.firstX!],
      [next - sigma, d2],
    ]);
  }
}
