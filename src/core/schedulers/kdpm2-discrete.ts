// Port of diffusers 0.27.2 KDPM2DiscreteScheduler (k-diffusion sample_dpm_2): a midpoint step, evaluating the model again at the geometric mean of consecutive sigmas.
import { SdError } from '../errors.ts';
import { alphasCumprod, trainBetas } from './betas.ts';
import { resolveConfig } from './config.ts';
import type { RawSchedulerConfig, Scheduler, StepInput, StepOutput } from './scheduler.ts';
import {
  addSigmaNoise,
  logSigmasF32,
  scheduleEntry,
  sigmaDenoised,
  sigmaInitNoise,
  sigmaInputScale,
  sigmaSchedule,
  sigmaToTimestep,
  trainSigmas,
} from './sigmas.ts';
import { roundHalfEven } from './timestep-spacing.ts';

export const KDPM2_DEFAULTS = {
  num_train_timesteps: 1000,
  beta_start: 0.00085,
  beta_end: 0.012,
  beta_schedule: 'linear',
  trained_betas: null as number[] | null,
  use_karras_sigmas: false,
  prediction_type: 'epsilon',
  timestep_spacing: 'linspace',
  steps_offset: 0,
};

export type Kdpm2Config = typeof KDPM2_DEFAULTS;

const f32 = Math.fround;

/** DPM-Solver-2 sampler ("DPM2" / "DPM2 Karras" in A1111). Timesteps: t0, then a midpoint and t_k for each further k. */
export class KDPM2DiscreteScheduler implements Scheduler {
  readonly order = 2;
  readonly initNoiseSigma: number;
  readonly timesteps: Float64Array;
  readonly config: Kdpm2Config;
  /** Float32 sigmas, interleaved: s0, s1, s1, …, 0, 0, 0. */
  readonly sigmas: Float64Array;
  /** Float32 midpoint sigmas sqrt(s_k * s_(k-1)), interleaved the same way (entry 0 is unused). */
  readonly sigmasInterpol: Float64Array;
  /** The latents at the start of the current step while its midpoint call is pending (diffusers' `sample`). */
  private stored: Float32Array | null = null;

  constructor(config: RawSchedulerConfig, steps: number, overrides: Record<string, unknown> = {}) {
    const { cfg, train, schedule } = kdpmSetup(config, steps, overrides, 'KDPM2DiscreteScheduler');
    this.config = cfg;
    const sigmas = schedule.sigmas;
    const n = sigmas.length;
    // Midpoints in log space between each sigma and the one before it (float32 tensor ops in diffusers).
    const interpol = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      interpol[i] = f32(Math.exp(lerpHalf(f32(Math.log(sigmas[i] as number)), f32(Math.log(sigmas[(i + n - 1) % n] as number)))));
    }
    this.sigmas = interleaveKdpm(sigmas);
    this.sigmasInterpol = interleaveKdpm(interpol);
    // The midpoint calls' timesteps go between t_(k-1) and t_k; the first (NaN) and last (0) midpoints are dropped.
    this.timesteps = mergeTimesteps(schedule.timesteps, midpointTimesteps(interpol, train, schedule.isKarras).subarray(1, n - 1));
    this.initNoiseSigma = sigmaInitNoise(this.sigmas, cfg.timestep_spacing);
  }

  scaleModelInput(stepIndex: number): number {
    const sigmas = this.stored ? this.sigmasInterpol : this.sigmas;
    return sigmaInputScale(scheduleEntry(sigmas, stepIndex, 'sigma'));
  }

  step({ modelOutput, stepIndex, sample }: StepInput): StepOutput {
    const stored = this.stored;
    // 1. This step's sigma, midpoint and end (the midpoint call sits one index after the first call).
    const base = stored ? stepIndex - 1 : stepIndex;
    const sigma = scheduleEntry(this.sigmas, base, 'sigma');
    const sigmaMid = scheduleEntry(this.sigmasInterpol, base + 1, 'sigma');
    const sigmaNext = scheduleEntry(this.sigmas, base + 1, 'sigma');
    // 2. Predicted x0 at the noise level this call was made at.
    const sigmaInput = stored ? sigmaMid : sigma;
    const denoised = sigmaDenoised(this.config.prediction_type, sigmaInput, sample, modelOutput);
    // 3. First call: Euler step to the midpoint. Midpoint call: the midpoint derivative, applied over the whole step.
    const from = stored ?? sample;
    const dt = stored ? sigmaNext - sigma : sigmaMid - sigma;
    const prevSample = new Float32Array(sample.length);
    for (let i = 0; i < sample.length; i++) {
      const d = f32(((sample[i] as number) - (denoised[i] as number)) / sigmaInput);
      prevSample[i] = (from[i] as number) + d * dt;
    }
    this.stored = stored ? null : sample;
    return { prevSample, denoised };
  }

  addNoise(original: Float32Array, noise: Float32Array, stepIndex: number): Float32Array {
    return addSigmaNoise(original, noise, scheduleEntry(this.sigmas, stepIndex, 'sigma'));
  }
}

/**
 * The shared part of both KDPM2 constructors: config resolution (diffusers rejects prediction_type "sample"
 * for them), training sigmas, and the sigma schedule with Karras timesteps rounded as these classes do.
 */
export function kdpmSetup(
  config: RawSchedulerConfig,
  steps: number,
  overrides: Record<string, unknown>,
  className: string,
): { cfg: Kdpm2Config; train: Float64Array; schedule: { timesteps: Float64Array; sigmas: Float64Array; isKarras: boolean } } {
  const cfg = resolveConfig(KDPM2_DEFAULTS, config, overrides as Partial<Kdpm2Config>);
  if (cfg.prediction_type === 'sample') {
    throw new SdError(
      'unsupported-model',
      `${className} does not support prediction_type "sample" (diffusers neither). Use the "Euler" or "Heun" sampler for this model.`,
    );
  }
  const train = trainSigmas(alphasCumprod(trainBetas(cfg)));
  const schedule = sigmaSchedule(train, steps, {
    spacing: cfg.timestep_spacing,
    stepsOffset: cfg.steps_offset,
    isKarras: cfg.use_karras_sigmas,
  });
  const timesteps = cfg.use_karras_sigmas ? schedule.timesteps.map(roundHalfEven) : schedule.timesteps;
  return { cfg, train, schedule: { timesteps, sigmas: schedule.sigmas, isKarras: cfg.use_karras_sigmas } };
}

/** torch.lerp(start, end, 0.5) in float32: torch uses end - (end - start) * (1 - w) for weights >= 0.5. */
export function lerpHalf(start: number, end: number): number {
  return f32(end - f32(end - start) * 0.5);
}

/** `cat([x[:1], x[1:].repeat_interleave(2), x[-1:]])`. */
export function interleaveKdpm(values: Float64Array): Float64Array {
  const n = values.length;
  const out = new Float64Array(2 * n);
  out[0] = values[0] as number;
  for (let i = 1; i < n; i++) {
    out[2 * i - 1] = values[i] as number;
    out[2 * i] = values[i] as number;
  }
  out[2 * n - 1] = values[n - 1] as number;
  return out;
}

/** Fractional training timesteps of midpoint sigmas, in the dtype of the main timesteps (float32 unless Karras). */
export function midpointTimesteps(interpol: Float64Array, train: Float64Array, isKarras: boolean): Float64Array {
  const logSigmas = logSigmasF32(train);
  return interpol.map((s) => {
    const t = Number.isNaN(s) ? NaN : sigmaToTimestep(s, logSigmas);
    return isKarras ? t : f32(t);
  });
}

/** [t0, mid_0, t1, mid_1, t2, …]: each timestep after the first is preceded by its midpoint call. */
export function mergeTimesteps(timesteps: Float64Array, midpoints: Float64Array): Float64Array {
  const out = new Float64Array(2 * timesteps.length - 1);
  out[0] = timesteps[0] as number;
  for (let k = 1; k < timesteps.length; k++) {
    out[2 * k - 1] = midpoints[k - 1] as number;
    out[2 * k] = timesteps[k] as number;
  }
  return out;
}
