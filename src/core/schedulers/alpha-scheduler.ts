/**
 * What the alpha-based diffusers 0.27.2 schedulers (DDIM, DDPM, LCM, PNDM) share as `Scheduler`s:
 * integer training timesteps over a float32 alphas_cumprod, unscaled model input, and the DDPM forward
 * process as `add_noise`.
 */
import { ddpmAddNoise } from './alpha-schedule.ts';
import type { NonlinearOptions } from './config.ts';
import type { Scheduler, StepInput, StepOutput } from './scheduler.ts';
import { scheduleEntry } from './sigmas.ts';

/** Base of the alpha-based schedulers: the `Scheduler` members they share; subclasses write `step`. */
export abstract class AlphaScheduler implements Scheduler {
  /** No x0 clipping or thresholding unless the class declares it (PNDM has neither). */
  static readonly nonlinearOptions: NonlinearOptions = {};
  readonly order = 1;
  readonly initNoiseSigma = 1;
  readonly timesteps: Float64Array;
  /** Float32 cumulative alphas per training timestep. */
  readonly alphasCumprod: Float64Array;

  protected constructor(timesteps: Float64Array, alphasCumprod: Float64Array) {
    this.timesteps = timesteps;
    this.alphasCumprod = alphasCumprod;
  }

  /** These schedulers work on unscaled latents: diffusers' `scale_model_input` returns the sample as is. */
  scaleModelInput(stepIndex: number): number {
    this.timestepAt(stepIndex);
    return 1;
  }

  abstract step(input: StepInput): StepOutput;

  /** The DDPM forward process at the timestep of `stepIndex` (diffusers' `add_noise` with `begin_index`). */
  addNoise(original: Float32Array, noise: Float32Array, stepIndex: number): Float32Array {
    return ddpmAddNoise(this.alphasCumprod, original, noise, this.timestepAt(stepIndex));
  }

  /** `timesteps[index]`, or an SdError 'internal' outside the schedule. */
  protected timestepAt(index: number): number {
    return scheduleEntry(this.timesteps, index, 'timestep');
  }
}
