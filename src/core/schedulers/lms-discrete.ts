// Port of diffusers 0.27.2 LMSDiscreteScheduler: 4th-order linear multistep over sigma (k-diffusion sample_lms), coefficients by integrating Lagrange basis polynomials.
import { lmsCoefficient } from './lms-coefficient.ts';
import { resolveConfig } from './config.ts';
import { predictX0AtSigma } from './prediction.ts';
import type { RawSchedulerConfig, StepInput, StepOutput } from './scheduler.ts';
import { SIGMA_DEFAULTS, SigmaScheduler } from './sigma-scheduler.ts';
import { sigmaSchedule, trainingSigmas } from './sigmas.ts';

const DEFAULTS = {
  ...SIGMA_DEFAULTS,
  use_karras_sigmas: false,
};

/** LMSDiscreteScheduler's resolved config (snake_case keys, as `scheduler_config.json`). */
export type LmsDiscreteConfig = typeof DEFAULTS;

/** diffusers' default `order` argument of `LMSDiscreteScheduler.step`. */
const LMS_ORDER = 4;

/** Linear multistep sampler ("LMS" / "LMS Karras" in A1111). */
export class LMSDiscreteScheduler extends SigmaScheduler<LmsDiscreteConfig> {
  readonly order = 1;
  /** The latest derivatives (x - x0) / sigma, oldest first, at most LMS_ORDER of them. */
  private readonly derivatives: Float32Array[] = [];

  constructor(config: RawSchedulerConfig, steps: number, overrides: Record<string, unknown> = {}) {
    const cfg = resolveConfig(DEFAULTS, config, overrides as Partial<LmsDiscreteConfig>);
    const schedule = sigmaSchedule(trainingSigmas(cfg), steps, {
      spacing: cfg.timestep_spacing,
      stepsOffset: cfg.steps_offset,
      isKarras: cfg.use_karras_sigmas,
    });
    super(cfg, schedule.timesteps, schedule.sigmas);
  }

  step({ modelOutput, stepIndex, sample }: StepInput): StepOutput {
    // 1. Predicted x0 and the ODE derivative d = (x - x0) / sigma, kept in a window of LMS_ORDER.
    const sigma = this.sigmaAt(stepIndex);
    this.sigmaAt(stepIndex + 1); // the step needs the next sigma too
    const denoised = predictX0AtSigma(this.config.prediction_type, modelOutput, sample, sigma);
    const derivative = new Float32Array(sample.length);
    for (let i = 0; i < sample.length; i++) derivative[i] = ((sample[i] as number) - (denoised[i] as number)) / sigma;
    this.derivatives.push(derivative);
    if (this.derivatives.length > LMS_ORDER) this.derivatives.shift();
    // 2. Coefficients for the order the step index allows. After an img2img start fewer derivatives exist
    //    than that order; like diffusers (zip), only as many coefficients as derivatives are used.
    const order = Math.min(stepIndex + 1, LMS_ORDER);
    const used = Math.min(order, this.derivatives.length);
    const coeffs: number[] = [];
    for (let k = 0; k < used; k++) coeffs.push(lmsCoefficient((i) => this.sigmaAt(i), order, stepIndex, k));
    // 3. x_next = x + sum_k coeff_k * d_(t-k), newest derivative first.
    const prevSample = new Float32Array(sample.length);
    for (let i = 0; i < sample.length; i++) {
      let acc = sample[i] as number;
      for (let k = 0; k < used; k++) {
        const d = this.derivatives[this.derivatives.length - 1 - k] as Float32Array;
        acc += (coeffs[k] as number) * (d[i] as number);
      }
      prevSample[i] = acc;
    }
    return { prevSample, denoised };
  }
}
