// Port of diffusers 0.27.2 EulerAncestralDiscreteScheduler: Euler step down to sigma_down, then fresh noise of size sigma_up (k-diffusion sample_euler_ancestral, eta = 1).
import { SdError } from '../errors.ts';
import { BETA_DEFAULTS } from './alpha-schedule.ts';
import { resolveConfig } from './config.ts';
import { eulerTrainSigmas } from './euler-discrete.ts';
import type { RawSchedulerConfig, Scheduler, StepInput, StepOutput } from './scheduler.ts';
import {
  addSigmaNoise,
  scheduleEntry,
  sigmaDenoised,
  sigmaInitNoise,
  sigmaInputScale,
  sigmaSchedule,
} from './sigmas.ts';

const DEFAULTS = {
  ...BETA_DEFAULTS,
  prediction_type: 'epsilon',
  timestep_spacing: 'linspace',
  steps_offset: 0,
  rescale_betas_zero_snr: false,
};

export type EulerAncestralDiscreteConfig = typeof DEFAULTS;

/** Ancestral Euler sampler ("Euler a" in A1111); draws one noise tensor per step from the injected generator. */
export class EulerAncestralDiscreteScheduler implements Scheduler {
  readonly order = 1;
  readonly initNoiseSigma: number;
  readonly timesteps: Float64Array;
  readonly config: EulerAncestralDiscreteConfig;
  /** Float32 noise levels per model call, then 0. */
  readonly sigmas: Float64Array;

  constructor(config: RawSchedulerConfig, steps: number, overrides: Record<string, unknown> = {}) {
    const cfg = resolveConfig(DEFAULTS, config, overrides as Partial<EulerAncestralDiscreteConfig>);
    if (cfg.prediction_type === 'sample') {
      throw new SdError(
        'unsupported-model',
        'EulerAncestralDiscreteScheduler does not support prediction_type "sample" (diffusers neither). Use the "Euler" sampler for this model.',
      );
    }
    this.config = cfg;
    const schedule = sigmaSchedule(eulerTrainSigmas(cfg, cfg.rescale_betas_zero_snr), steps, {
      spacing: cfg.timestep_spacing,
      stepsOffset: cfg.steps_offset,
      isKarras: false,
    });
    this.sigmas = schedule.sigmas;
    this.timesteps = schedule.timesteps;
    this.initNoiseSigma = sigmaInitNoise(this.sigmas, cfg.timestep_spacing);
  }

  scaleModelInput(stepIndex: number): number {
    return sigmaInputScale(scheduleEntry(this.sigmas, stepIndex, 'sigma'));
  }

  step({ modelOutput, stepIndex, sample, shape, rng }: StepInput): StepOutput {
    // 1. Predicted clean latents x0 at the current sigma.
    const sigmaFrom = scheduleEntry(this.sigmas, stepIndex, 'sigma');
    const sigmaTo = scheduleEntry(this.sigmas, stepIndex + 1, 'sigma');
    const denoised = sigmaDenoised(this.config.prediction_type, sigmaFrom, sample, modelOutput);
    // 2. Split the move to sigmaTo into a deterministic part (down to sigmaDown) and fresh noise (sigmaUp),
    //    in float32 like diffusers' tensor arithmetic on the float32 sigmas.
    const f = Math.fround;
    const from2 = f(sigmaFrom * sigmaFrom);
    const to2 = f(sigmaTo * sigmaTo);
    const sigmaUp = f(Math.sqrt(f(f(to2 * f(from2 - to2)) / from2)));
    const sigmaDown = f(Math.sqrt(f(to2 - f(sigmaUp * sigmaUp))));
    const dt = sigmaDown - sigmaFrom;
    // 3. Noise is drawn at every step, the last one included (where sigmaUp is 0), as diffusers does.
    const noise = rng.randn(shape);
    // 4. Euler step with derivative (x - x0) / sigma, plus the noise.
    const prevSample = new Float32Array(sample.length);
    for (let i = 0; i < sample.length; i++) {
      const x = sample[i] as number;
      const stepped = f(x + ((x - (denoised[i] as number)) / sigmaFrom) * dt);
      prevSample[i] = stepped + (noise[i] as number) * sigmaUp;
    }
    return { prevSample, denoised };
  }

  addNoise(original: Float32Array, noise: Float32Array, stepIndex: number): Float32Array {
    return addSigmaNoise(original, noise, scheduleEntry(this.sigmas, stepIndex, 'sigma'));
  }
}
