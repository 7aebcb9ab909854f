// Port of diffusers 0.27.2 KDPM2DiscreteScheduler (k-diffusion sample_dpm_2): a midpoint step, evaluating the model again at the geometric mean of consecutive sigmas.
import { kdpmSetup, Kdpm2Scheduler, logMidpoint, mergeTimesteps, midpointTimesteps } from './kdpm2-common.ts';
import { predictX0AtSigma } from './prediction.ts';
import type { RawSchedulerConfig, StepInput, StepOutput } from './scheduler.ts';
import { scheduleEntry, sigmaInputScale } from './sigmas.ts';

/**
 * DPM-Solver-2 sampler ("DPM2" / "DPM2 Karras" in A1111). Timesteps: t0, then a midpoint and t_k for each
 * further k; the float32 sigmas are interleaved the same way: s0, s1, s1, …, 0, 0, 0.
 */
export class KDPM2DiscreteScheduler extends Kdpm2Scheduler {
  constructor(config: RawSchedulerConfig, steps: number, overrides: Record<string, unknown> = {}) {
    const { cfg, train, schedule } = kdpmSetup(config, steps, overrides, 'KDPM2DiscreteScheduler');
    const sigmas = schedule.sigmas;
    const n = sigmas.length;
    // Midpoints sqrt(s_k * s_(k-1)): in log space between each sigma and the one before it (entry 0 is unused).
    const interpol = sigmas.map((sigma, i) => logMidpoint(sigma, sigmas[(i + n - 1) % n] as number));
    // The midpoint calls' timesteps go between t_(k-1) and t_k; the first (NaN) and last (0) midpoints are dropped.
    const midpoints = midpointTimesteps(interpol, train, schedule.isKarras).subarray(1, n - 1);
    super(cfg, mergeTimesteps(schedule.timesteps, midpoints), sigmas, interpol);
  }

  override scaleModelInput(stepIndex: number): number {
    const sigmas = this.stored ? this.sigmasInterpol : this.sigmas;
    return sigmaInputScale(scheduleEntry(sigmas, stepIndex, 'sigma'));
  }

  step({ modelOutput, stepIndex, sample }: StepInput): StepOutput {
    const stored = this.stored;
    // 1. This step's sigma, midpoint and end (the midpoint call sits one index after the first call).
    const base = stored ? stepIndex - 1 : stepIndex;
    const sigma = this.sigmaAt(base);
    const sigmaMid = scheduleEntry(this.sigmasInterpol, base + 1, 'sigma');
    const sigmaNext = this.sigmaAt(base + 1);
    // 2. Predicted x0 at the noise level this call was made at.
    const sigmaInput = stored ? sigmaMid : sigma;
    const denoised = predictX0AtSigma(this.config.prediction_type, modelOutput, sample, sigmaInput);
    // 3. First call: Euler step to the midpoint. Midpoint call: the midpoint derivative, applied over the whole step.
    const from = stored ?? sample;
    const dt = stored ? sigmaNext - sigma : sigmaMid - sigma;
    const prevSample = new Float32Array(sample.length);
    for (let i = 0; i < sample.length; i++) {
      const d = Math.fround(((sample[i] as number) - (denoised[i] as number)) / sigmaInput);
      prevSample[i] = (from[i] as number) + d * dt;
    }
    this.stored = stored ? null : sample;
    return { prevSample, denoised };
  }
}
