// Port of diffusers 0.27.2 EulerAncestralDiscreteScheduler: Euler step down to sigma_down, then fresh noise of size sigma_up (k-diffusion sample_euler_ancestral, eta = 1).
import { resolveConfig } from './config.ts';
import { predictX0AtSigma, rejectSamplePrediction } from './prediction.ts';
import type { RawSchedulerConfig, StepInput, StepOutput } from './scheduler.ts';
import { SIGMA_DEFAULTS, SigmaScheduler } from './sigma-scheduler.ts';
import { ancestralStep, sigmaSchedule, trainingSigmas } from './sigmas.ts';

const DEFAULTS = { ...SIGMA_DEFAULTS, rescale_betas_zero_snr: false };

/** EulerAncestralDiscreteScheduler's resolved config (snake_case keys, as `scheduler_config.json`). */
export type EulerAncestralDiscreteConfig = typeof DEFAULTS;

/** Ancestral Euler sampler ("Euler a" in A1111); draws one noise tensor per step from the injected generator. */
export class EulerAncestralDiscreteScheduler extends SigmaScheduler<EulerAncestralDiscreteConfig> {
  readonly order = 1;

  constructor(config: RawSchedulerConfig, steps: number, overrides: Record<string, unknown> = {}) {
    const cfg = resolveConfig(DEFAULTS, config, overrides as Partial<EulerAncestralDiscreteConfig>);
    rejectSamplePrediction(cfg.prediction_type, 'EulerAncestralDiscreteScheduler', 'the "Euler" sampler');
    const schedule = sigmaSchedule(trainingSigmas(cfg, cfg.rescale_betas_zero_snr), steps, {
      spacing: cfg.timestep_spacing,
      stepsOffset: cfg.steps_offset,
      isKarras: false,
    });
    super(cfg, schedule.timesteps, schedule.sigmas);
  }

  step({ modelOutput, stepIndex, sample, shape, rng }: StepInput): StepOutput {
    // 1. Predicted clean latents x0 at the current sigma.
    const sigmaFrom = this.sigmaAt(stepIndex);
    const sigmaTo = this.sigmaAt(stepIndex + 1);
    const denoised = predictX0AtSigma(this.config.prediction_type, modelOutput, sample, sigmaFrom);
    // 2. Split the move to sigmaTo into a deterministic part (down to sigmaDown) and fresh noise (sigmaUp).
    const { sigmaUp, sigmaDown } = ancestralStep(sigmaFrom, sigmaTo);
    const dt = sigmaDown - sigmaFrom;
    // 3. Noise is drawn at every step, the last one included (where sigmaUp is 0), as diffusers does.
    const noise = rng.randn(shape);
    // 4. Euler step with derivative (x - x0) / sigma, plus the noise.
    const prevSample = new Float32Array(sample.length);
    for (let i = 0; i < sample.length; i++) {
      const x = sample[i] as number;
      const stepped = Math.fround(x + ((x - (denoised[i] as number)) / sigmaFrom) * dt);
      prevSample[i] = stepped + (noise[i] as number) * sigmaUp;
    }
    return { prevSample, denoised };
  }
}
