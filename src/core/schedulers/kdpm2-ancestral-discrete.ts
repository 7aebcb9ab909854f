// Port of diffusers 0.27.2 KDPM2AncestralDiscreteScheduler (k-diffusion sample_dpm_2_ancestral, eta = 1): a DPM-Solver-2 step down to sigma_down, then fresh noise of size sigma_up.
import {
  interleaveKdpm,
  kdpmSetup,
  Kdpm2Scheduler,
  logMidpoint,
  mergeTimesteps,
  midpointTimesteps,
} from './kdpm2-common.ts';
import { predictX0AtSigma } from './prediction.ts';
import type { RawSchedulerConfig, StepInput, StepOutput } from './scheduler.ts';
import { ancestralStep, scheduleEntry, sigmaInputScale } from './sigmas.ts';

const f32 = Math.fround;

/**
 * Ancestral DPM-Solver-2 sampler ("DPM2 a" / "DPM2 a Karras" in A1111). Timesteps: t0, then a midpoint
 * and t_k for each further k; every model call draws one noise tensor, only the midpoint calls use it.
 */
export class KDPM2AncestralDiscreteScheduler extends Kdpm2Scheduler {
  /** The ancestral up/down split of each step, interleaved like `sigmas`. */
  readonly sigmasUp: Float64Array;
  readonly sigmasDown: Float64Array;

  constructor(config: RawSchedulerConfig, steps: number, overrides: Record<string, unknown> = {}) {
    const { cfg, train, schedule } = kdpmSetup(config, steps, overrides, 'KDPM2AncestralDiscreteScheduler');
    const sigmas = schedule.sigmas;
    const n = sigmas.length;
    // Ancestral split of each move s_k -> s_(k+1) (the final entry is 0/0 = NaN, never used).
    const up = new Float64Array(n);
    const down = new Float64Array(n);
    const interpol = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const { sigmaUp, sigmaDown } = ancestralStep(sigmas[i] as number, i + 1 < n ? (sigmas[i + 1] as number) : 0);
      up[i] = sigmaUp;
      down[i] = i === n - 1 ? 0 : sigmaDown;
      // Midpoint between sigma and sigma_down in log space; the last two are set to 0 (their logs are -inf).
      interpol[i] = i >= n - 2 ? 0 : logMidpoint(sigmas[i] as number, down[i] as number);
    }
    // Here the midpoint of step k belongs to sigma index k, so the last two midpoints are dropped.
    const midpoints = midpointTimesteps(interpol, train, schedule.isKarras).subarray(0, n - 2);
    super(cfg, mergeTimesteps(schedule.timesteps, midpoints), sigmas, interpol);
    this.sigmasUp = interleaveKdpm(up);
    this.sigmasDown = interleaveKdpm(down);
  }

  override scaleModelInput(stepIndex: number): number {
    const sigma = this.stored ? scheduleEntry(this.sigmasInterpol, stepIndex - 1, 'sigma') : this.sigmaAt(stepIndex);
    return sigmaInputScale(sigma);
  }

  step({ modelOutput, stepIndex, sample, shape, rng }: StepInput): StepOutput {
    const stored = this.stored;
    // 1. This step's sigma, midpoint, and up/down split (all at the step's first index).
    const base = stored ? stepIndex - 1 : stepIndex;
    const sigma = this.sigmaAt(base);
    const sigmaMid = scheduleEntry(this.sigmasInterpol, base, 'sigma');
    const sigmaUp = scheduleEntry(this.sigmasUp, base, 'sigma');
    const sigmaDown = stored ? scheduleEntry(this.sigmasDown, base, 'sigma') : 0;
    // 2. diffusers draws noise on every call, before it knows whether the call uses it.
    const noise = rng.randn(shape);
    // 3. Predicted x0 at the noise level this call was made at.
    const sigmaInput = stored ? sigmaMid : sigma;
    const denoised = predictX0AtSigma(this.config.prediction_type, modelOutput, sample, sigmaInput);
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
}
