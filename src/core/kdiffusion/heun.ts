// Port of k-diffusion 0.0.16 `sample_heun` (A1111 "Heun"), s_churn = 0: Karras et al. (2022), Algorithm 2.
import { combine } from '../schedulers/linear-combination.ts';
import { derivative, KSampler, secondOrderCalls, type KSamplerOptions, type KStepInput } from './k-sampler.ts';

export class HeunSampler extends KSampler {
  /** The step's x and d from its first call, kept for the second. */
  private first: { x: Float32Array; d: Float32Array } | undefined;

  constructor(options: KSamplerOptions) {
    const { sigmas } = options;
    super(
      options,
      secondOrderCalls(sigmas, (i) => (sigmas[i + 1] === 0 ? undefined : (sigmas[i + 1] as number))),
    );
  }

  protected advance({ call, x, denoised }: KStepInput): Float32Array {
    const sigma = this.sigma(call.step);
    const next = this.sigma(call.step + 1);
    const dt = next - sigma;
    if (call.stage === 0) {
      // 1. d = to_d(x, σ_i);  2. Euler to σ_{i+1} (the result when σ_{i+1} = 0, else the second call's input)
      const d = derivative(x, denoised, sigma);
      if (next !== 0) this.first = { x, d };
      return combine([
        [1, x],
        [dt, d],
      ]);
    }
    // 3. d_2 = to_d(x_2, σ_{i+1});  4. x + (d + d_2) / 2 · dt
    const first = this.first!;
    const d2 = derivative(x, denoised, next);
    return combine([
      [1, first.x],
      [dt / 2, first.d],
      [dt / 2, d2],
    ]);
  }
}
