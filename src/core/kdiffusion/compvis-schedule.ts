// Port of k-diffusion 0.0.16's CompVisDenoiser / DiscreteSchedule (k_diffusion/external.py): the model's
// noise levels from the LDM `alphas_cumprod`, and the σ ↔ fractional timestep maps, in torch's float32.
import { f32, linspace64 } from './float32.ts';

/** The LDM ("scaled_linear") β schedule: β linear in √β from 0.00085 to 0.012 over 1000 steps. */
export interface LdmBetaSchedule {
  betaStart: number;
  betaEnd: number;
  trainSteps: number;
}

export const LDM_BETAS: LdmBetaSchedule = { betaStart: 0.00085, betaEnd: 0.012, trainSteps: 1000 };

/**
 * The float32 `alphas_cumprod` of LDM's `register_schedule`: betas computed in float64
 * (`linspace(√β₀, √β₁, n, float64) ** 2`), their cumulative product of `1 - β` in float64 (numpy),
 * stored as float32.
 * @returns float32 values in a Float64Array [trainSteps]
 */
export function ldmAlphasCumprod({ betaStart, betaEnd, trainSteps }: LdmBetaSchedule = LDM_BETAS): Float64Array {
  const roots = linspace64(Math.sqrt(betaStart), Math.sqrt(betaEnd), trainSteps);
  const out = new Float64Array(trainSteps);
  let product = 1;
  for (let i = 0; i < trainSteps; i++) {
    const beta = (roots[i] as number) ** 2;
    product *= 1 - beta;
    out[i] = f32(product);
  }
  return out;
}

/**
 * The discrete noise levels of a CompVis (LDM) model, σ_t = sqrt((1 - ᾱ_t) / ᾱ_t) for t = 0..999,
 * ascending, and k-diffusion's maps between σ and fractional timesteps (not quantized, as A1111 runs it).
 */
export class CompVisSchedule {
  /** σ per training timestep, ascending; float32 values. */
  readonly sigmas: Float64Array;
  /** float32 log σ. */
  readonly logSigmas: Float64Array;

  constructor(alphasCumprod: Float64Array = ldmAlphasCumprod()) {
    this.sigmas = alphasCumprod.map((a) => f32(Math.sqrt(f32(f32(1 - a) / a))));
    this.logSigmas = this.sigmas.map((s) => f32(Math.log(s)));
  }

  get sigmaMin(): number {
    return this.sigmas[0] as number;
  }

  get sigmaMax(): number {
    return this.sigmas[this.sigmas.length - 1] as number;
  }

  /**
   * `sigma_to_t`: the fractional timestep whose log σ interpolates linearly between the two neighbouring
   * training steps (clamped to [0, 999]).
   */
  sigmaToT(sigma: number): number {
    const logSigma = f32(Math.log(sigma));
    const ls = this.logSigmas;
    // dists.ge(0).cumsum().argmax(): the last index whose log σ is at most logSigma (0 when none is)
    let count = 0;
    for (const l of ls) if (f32(logSigma - l) >= 0) count++;
    const low = Math.min(Math.max(count - 1, 0), ls.length - 2);
    const lowLog = ls[low] as number;
    const highLog = ls[low + 1] as number;
    const w = Math.min(Math.max(f32(f32(lowLog - logSigma) / f32(lowLog - highLog)), 0), 1);
    return f32(f32(f32(1 - w) * low) + f32(w * (low + 1)));
  }

  /** `t_to_sigma`: log σ interpolated linearly between floor(t) and ceil(t). */
  tToSigma(t: number): number {
    const t32 = f32(t);
    const low = Math.floor(t32);
    const high = Math.ceil(t32);
    const w = f32(t32 - Math.trunc(t32));
    const ls = this.logSigmas;
    const logSigma = f32(f32(f32(1 - w) * (ls[low] as number)) + f32(w * (ls[high] as number)));
    return f32(Math.exp(logSigma));
  }

  /** The model's input scale at σ, `c_in = 1 / sqrt(σ² + 1)`, in float32. */
  static inputScale(sigma: number): number {
    return f32(1 / f32(Math.sqrt(f32(f32(sigma * sigma) + 1))));
  }
}
