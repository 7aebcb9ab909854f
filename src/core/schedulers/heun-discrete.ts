// Port of diffusers 0.27.2 HeunDiscreteScheduler (Karras et al. 2022, Algorithm 1): an Euler predictor and a trapezoidal corrector, two model calls per step.
import { alphasCumprod, expBetas, trainBetas } from './betas.ts';
import { nonlinearDefaults, resolveConfig } from './config.ts';
import { clipOrThreshold, predictX0AtSigma } from './prediction.ts';
import type { RawSchedulerConfig, StepInput, StepOutput } from './scheduler.ts';
import { SIGMA_DEFAULTS, SigmaScheduler } from './sigma-scheduler.ts';
import { sigmaSchedule, trainSigmas } from './sigmas.ts';

const DEFAULTS = {
  ...SIGMA_DEFAULTS,
  beta_start: 0.00085,
  beta_end: 0.012,
  use_karras_sigmas: false,
  clip_sample: false,
  clip_sample_range: 1.0,
};

/** HeunDiscreteScheduler's resolved config (snake_case keys, as `scheduler_config.json`). */
export type HeunDiscreteConfig = typeof DEFAULTS;

/**
 * Heun sampler ("Heun" in A1111). Timesteps are t0, t1, t1, t2, t2, …: each but the first is visited twice;
 * the float32 sigmas are interleaved the same way: s0, s1, s1, …, s(n-1), s(n-1), 0.
 */
export class HeunDiscreteScheduler extends SigmaScheduler<HeunDiscreteConfig> {
  /** `clip_sample` clamps x0, which makes the step nonlinear in the latents. */
  static override readonly nonlinearOptions = nonlinearDefaults(DEFAULTS, ['clip_sample']);
  readonly order = 2;
  /** Predictor state between the two calls of a step (diffusers' prev_derivative, dt, sample). */
  private pending: { derivative: Float64Array; dt: number; sample: Float32Array } | null = null;

  constructor(config: RawSchedulerConfig, steps: number, overrides: Record<string, unknown> = {}) {
    const cfg = resolveConfig(DEFAULTS, config, overrides as Partial<HeunDiscreteConfig>);
    const betas = cfg.beta_schedule === 'exp' ? expBetas(cfg.num_train_timesteps) : trainBetas(cfg);
    const schedule = sigmaSchedule(trainSigmas(alphasCumprod(betas)), steps, {
      spacing: cfg.timestep_spacing,
      stepsOffset: cfg.steps_offset,
      isKarras: cfg.use_karras_sigmas,
    });
    super(cfg, repeatInner(schedule.timesteps, 0), repeatInner(schedule.sigmas, 1));
  }

  step({ modelOutput, stepIndex, sample, shape }: StepInput): StepOutput {
    const pending = this.pending;
    // 1. The step's interval: the predictor call sits at its start, the corrector call at its end.
    const sigma = this.sigmaAt(pending ? stepIndex - 1 : stepIndex);
    const sigmaNext = this.sigmaAt(pending ? stepIndex : stepIndex + 1);
    // 2. Predicted x0 at the noise level this call was made at (sigma for the predictor, sigmaNext for the corrector).
    const sigmaInput = pending ? sigmaNext : sigma;
    const predicted = predictX0AtSigma(this.config.prediction_type, modelOutput, sample, sigmaInput);
    const denoised = clipOrThreshold(predicted, shape, this.config);
    const prevSample = new Float32Array(sample.length);
    if (!pending) {
      // 3a. Predictor: Euler step with d = (x - x0) / sigma over dt = sigmaNext - sigma; keep d, dt and x.
      const dt = sigmaNext - sigma;
      const derivative = new Float64Array(sample.length);
      for (let i = 0; i < sample.length; i++) {
        const x = sample[i] as number;
        const d = Math.fround((x - (denoised[i] as number)) / sigma);
        derivative[i] = d;
        prevSample[i] = x + d * dt;
      }
      this.pending = { derivative, dt, sample };
    } else {
      // 3b. Corrector: average the two derivatives and redo the step from the stored x.
      for (let i = 0; i < sample.length; i++) {
        const d2 = Math.fround(((sample[i] as number) - (denoised[i] as number)) / sigmaNext);
        const d = Math.fround(((pending.derivative[i] as number) + d2) / 2);
        prevSample[i] = (pending.sample[i] as number) + d * pending.dt;
      }
      this.pending = null;
    }
    return { prevSample, denoised };
  }
}

/**
 * diffusers' `cat([x[:1], x[1:-tail or None].repeat_interleave(2), x[-tail:]])`: every entry after the first
 * twice, except the last `tail` entries (1 for the sigmas, whose final 0 stays single; 0 for the timesteps).
 */
export function repeatInner(values: Float64Array, tail: number): Float64Array {
  const n = values.length;
  const out: number[] = [values[0] as number];
  for (let i = 1; i < n - tail; i++) out.push(values[i] as number, values[i] as number);
  for (let i = Math.max(1, n - tail); i < n; i++) out.push(values[i] as number);
  return Float64Array.from(out);
}
