// Port of diffusers 0.27.2 KDPM2AncestralDiscreteScheduler (k-diffusion sample_dpm_2_ancestral, eta = 1): a DPM-Solver-2 step down to sigma_down, then fresh noise of size sigma_up.
import {
  interleaveKdpm,
  kdpmSetup,
  lerpHalf,
  mergeTimesteps,
  midpointTimesteps,
  type Kdpm2Config,
} from './kdpm2-discrete.ts';
import type { RawSchedulerConfig, Scheduler, StepInput, StepOutput } from './scheduler.ts';
import { addSigmaNoise, scheduleEntry, sigmaDenoised, sigmaInitNoise, sigmaInputScale } from './sigmas.ts';

const f32 = Math.fround;

/**
 * Ancestral DPM-Solver-2 sampler ("DPM2 a" / "DPM2 a Karras" in A1111). Timesteps: t0, then a midpoint
 * and t_k for each further k; every model call draws one noise tensor, only the midpoint calls use it.
 */
export class KDPM2AncestralDiscreteScheduler implements Scheduler {
  readonly order = 2;
  readonly initNoiseSigma: number;
  readonly timesteps: Float64Array;
  readonly config: Kdpm2Config;
  /** Interleaved float32 schedules (s0, s1, s1, …): sigma, midpoint sigma, and the ancestral up/down split. */
  readonly sigmas: Float64Array;
  readonly sigmasInterpol: Float64Array;
  readonly sigmasUp: Float64Array;
  readonly sigmasDown: Float64Array;
  /** The latents at the start of the current step while its midpoint call is pending. */
  private stored: Float32Array | null = null;

  constructor(config: RawSchedulerConfig, steps: number, overrides: Record<string, unknown> = {}) {
    const { cfg, train, schedule } = kdpmSetup(config, steps, overrides, 'KDPM2AncestralDiscreteScheduler');
    this.config = cfg;
    const sigmas = schedule.sigmas;
    const n = sigmas.length;
    // Ancestral split of each move s_k -> s_(k+1) (float32 tensor ops; the final entry is 0/0 = NaN, never used).
    const up = new Float64Array(n);
    const down = new Float64Array(n);
    const interpol = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const s2 = f32((sigmas[i] as number) ** 2);
      const next = i + 1 < n ? (sigmas[i + 1] as number) : 0;
      const n2 = f32(next * next);
      up[i] = f32(Math.sqrt(f32(f32(n2 * f32(s2 - n2)) / s2)));
      down[i] = i === n - 1 ? 0 : f32(Math.sqrt(f32(n2 - f32((up[i] as number) ** 2))));
      // Midpoint between sigma and sigma_down in log space; the last two are set to 0 (their logs are -inf).
      interpol[i] =
        i >= n - 2
          ? 0
          : f32(Math.exp(lerpHalf(f32(Math.log(sigmas[i] as number)), f32(Math.log(down[i] as number)))));
    }
    this.sigmas = interleaveKdpm(sigmas);
    this.sigmasInterpol = interleaveKdpm(interpol);
    this.sigmasUp = interleaveKdpm(up);
    this.sigmasDown = interleaveKdpm(down);
    // Here the midpoint of step k belongs to sigma index k, so the last two midpoints are dropped.
    this.timesteps = mergeTimesteps(schedule.timesteps, midpointTimesteps(interpol, train, schedule.isKarras).subarray(0, n - 2));
    this.initNoiseSigma = sigmaInitNoise(this.sigmas, cfg.timestep_spacing);
  }

  scaleModelInput(stepIndex: number): number {
    const sigma = this.stored
      ? scheduleEntry(this.sigmasInterpol, stepIndex - 1, 'sigma')
      : scheduleEntry(this.sigmas, stepIndex, 'sigma');
    return sigmaInputScale(sigma);
  }

  step({ modelOutput, stepIndex, sample, shape, rng }: StepInput): StepOutput {
    const stored = this.stored;
    // 1. This step's sigma, midpoint, and up/down split (all at the step's first index).
    const base = stored ? stepIndex - 1 : stepIndex;
    const sigma = scheduleEntry(this.sigmas, base, 'sigma');
    const sigmaMid = scheduleEntry(this.sigmasInterpol, base, 'sigma');
    const sigmaUp = scheduleEntry(this.sigmasUp, base, 'sigma');
    const sigmaDown = stored ? scheduleEntry(this.sigmasDown, base, 'sigma') : 0;
    // 2. diffusers draws noise on every call, before it knows whether the call uses it.
    const noise = rng.randn(shape);
    // 3. Predicted x0 at the noise level this call was made at.
    const sigmaInput = stored ? sigmaMid : sigma;
    const denoised = sigmaDenoised(this.config.prediction_type, sigmaInput, sample, modelOutput);
    const prevSample = new Float32Array(sample.length);
    if (!stored) {
      // 4a. First call: Euler step to the midpoint.
      const dt = sigmaMid - sigma;
      for (let i = 0; i < sample.length; i++) {
        const x = sample[i] as number;
        prevSample[i] = x + f32((x - (denoised[i] as number)) / sigma) * dt;
      }
      this.stored = sample;
    } else {
      // 4b. Midpoint call: its derivative over the step down to sigma_down, plus noise scaled by sigma_up.
      const dt = sigmaDown - sigma;
      for (let i = 0; i < sample.length; i++) {
        const d = f32(((sample[i] as number) - (denoised[i] as number)) / sigmaMid);
        prevSample[i] = f32((stored[i] as number) + d * dt) + (noise[i] as number) * sigmaUp;
      }
      this.stored = null;
    }
    return { prevSample, denoised };
  }

  addNoise(original: Float32Array, noise: Float32Array, stepIndex: number): Float32Array {
    return addSigmaNoise(original, noise, scheduleEntry(this.sigmas, stepIndex, 'sigma'));
  }
}
