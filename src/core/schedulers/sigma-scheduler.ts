/**
 * What the k-diffusion-style diffusers 0.27.2 schedulers (Euler, Euler a, Heun, LMS, KDPM2 and KDPM2 a)
 * share as `Scheduler`s: a float32 sigma schedule ending at 0, the model input scaled by
 * 1 / sqrt(sigma² + 1), and `add_noise` as x0 + sigma * noise.
 */
import { BETA_DEFAULTS } from './alpha-schedule.ts';
import type { NonlinearOptions } from './config.ts';
import type { Scheduler, StepInput, StepOutput } from './scheduler.ts';
import { addSigmaNoise, scheduleEntry, sigmaInitNoise, sigmaInputScale } from './sigmas.ts';

/** Config keys (and diffusers' defaults) every k-diffusion-style class takes. */
export const SIGMA_DEFAULTS = {
  ...BETA_DEFAULTS,
  prediction_type: 'epsilon',
  timestep_spacing: 'linspace',
  steps_offset: 0,
};

/** The config keys the base class reads. */
interface SigmaSchedulerConfig {
  timestep_spacing: string;
}

/**
 * Base of the k-diffusion-style schedulers: the `Scheduler` members they share; subclasses write `step`.
 * @typeParam C the class's resolved config (its defaults' type)
 */
export abstract class SigmaScheduler<C extends SigmaSchedulerConfig = SigmaSchedulerConfig> implements Scheduler {
  /** None of these classes clips or thresholds x0 unless it says so (Heun's `clip_sample`). */
  static readonly nonlinearOptions: NonlinearOptions = {};
  abstract readonly order: number;
  readonly initNoiseSigma: number;
  /** The class's config: its defaults, then the model's `scheduler_config.json`, then the sampler's arguments. */
  readonly config: C;
  readonly timesteps: Float64Array;
  /** Float32 noise level of each model call, then the final one (0), as diffusers' `sigmas`. */
  readonly sigmas: Float64Array;

  /**
   * @param config the resolved config; its `timestep_spacing` decides `init_noise_sigma`
   * @param sigmas the class's `sigmas` (interleaved for the two-call classes)
   */
  protected constructor(config: C, timesteps: Float64Array, sigmas: Float64Array) {
    this.config = config;
    this.timesteps = timesteps;
    this.sigmas = sigmas;
    this.initNoiseSigma = sigmaInitNoise(sigmas, config.timestep_spacing);
  }

  /** diffusers' `scale_model_input`: 1 / sqrt(sigma² + 1) at the sigma of the call. */
  scaleModelInput(stepIndex: number): number {
    return sigmaInputScale(this.sigmaAt(stepIndex));
  }

  abstract step(input: StepInput): StepOutput;

  /** original + sigma * noise at the sigma of `stepIndex` (diffusers' `add_noise` with `begin_index`). */
  addNoise(original: Float32Array, noise: Float32Array, stepIndex: number): Float32Array {
    return addSigmaNoise(original, noise, this.sigmaAt(stepIndex));
  }

  /** `sigmas[index]`, or an SdError 'internal' outside the schedule. */
  protected sigmaAt(index: number): number {
    return scheduleEntry(this.sigmas, index, 'sigma');
  }
}
