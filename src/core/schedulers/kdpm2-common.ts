/**
 * What diffusers 0.27.2 KDPM2DiscreteScheduler and KDPM2AncestralDiscreteScheduler share: their config, the
 * sigma schedule with Karras timesteps rounded as these classes do, log-space midpoints, and the interleaving
 * of one schedule entry per model call (t0, then a midpoint call and a full call for each further step).
 */
import { resolveConfig } from './config.ts';
import { rejectSamplePrediction } from './prediction.ts';
import type { RawSchedulerConfig } from './scheduler.ts';
import { SIGMA_DEFAULTS, SigmaScheduler } from './sigma-scheduler.ts';
import { logSigmasF32, sigmaSchedule, sigmaToTimestep, trainingSigmas } from './sigmas.ts';
import { roundHalfEven } from './timestep-spacing.ts';

/** The config keys of both KDPM2 classes, with diffusers' class defaults. */
export const KDPM2_DEFAULTS = {
  ...SIGMA_DEFAULTS,
  beta_start: 0.00085,
  beta_end: 0.012,
  use_karras_sigmas: false,
};

/** The resolved config of both KDPM2 classes (snake_case keys, as `scheduler_config.json`). */
export type Kdpm2Config = typeof KDPM2_DEFAULTS;

const f32 = Math.fround;

/** The state and schedules both KDPM2 classes keep: two model calls per step, the second at a midpoint sigma. */
export abstract class Kdpm2Scheduler extends SigmaScheduler<Kdpm2Config> {
  readonly order = 2;
  /** Float32 midpoint sigmas, interleaved like `sigmas` (s0, s1, s1, …). */
  readonly sigmasInterpol: Float64Array;
  /** The latents at the start of the current step while its midpoint call is pending (diffusers' `sample`). */
  protected stored: Float32Array | null = null;

  /**
   * @param sigmas the schedule's sigmas, one per step plus the final 0 (interleaved here)
   * @param interpol the midpoint sigma of each entry of `sigmas` (interleaved here)
   */
  protected constructor(cfg: Kdpm2Config, timesteps: Float64Array, sigmas: Float64Array, interpol: Float64Array) {
    super(cfg, timesteps, interleaveKdpm(sigmas));
    this.sigmasInterpol = interleaveKdpm(interpol);
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
): {
  cfg: Kdpm2Config;
  train: Float64Array;
  schedule: { timesteps: Float64Array; sigmas: Float64Array; isKarras: boolean };
} {
  const cfg = resolveConfig(KDPM2_DEFAULTS, config, overrides as Partial<Kdpm2Config>);
  rejectSamplePrediction(cfg.prediction_type, className, 'the "Euler" or "Heun" sampler');
  const train = trainingSigmas(cfg);
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

/** The midpoint of two sigmas in log space, exp(lerp(log a, log b, 0.5)), in float32 as diffusers' tensor ops. */
export function logMidpoint(a: number, b: number): number {
  return f32(Math.exp(lerpHalf(f32(Math.log(a)), f32(Math.log(b)))));
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
