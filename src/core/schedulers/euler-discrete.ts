// Port of diffusers 0.27.2 EulerDiscreteScheduler (Karras et al. 2022, Algorithm 2 with s_churn = 0): one deterministic Euler step per model call.
import { linspaceF32 } from './betas.ts';
import { resolveConfig } from './config.ts';
import { predictX0AtSigma } from './prediction.ts';
import type { RawSchedulerConfig, StepInput, StepOutput } from './scheduler.ts';
import { SIGMA_DEFAULTS, SigmaScheduler } from './sigma-scheduler.ts';
import {
  karrasFrom,
  logSigmasF32,
  sigmaSchedule,
  sigmaToTimestep,
  sigmaTimesteps,
  trainingSigmas,
  withFinalSigma,
  type SigmaSchedule,
} from './sigmas.ts';
import { SdError } from '../errors.ts';

const DEFAULTS = {
  ...SIGMA_DEFAULTS,
  interpolation_type: 'linear',
  use_karras_sigmas: false,
  sigma_min: null as number | null,
  sigma_max: null as number | null,
  timestep_type: 'discrete',
  rescale_betas_zero_snr: false,
};

/** EulerDiscreteScheduler's resolved config (snake_case keys, as `scheduler_config.json`). */
export type EulerDiscreteConfig = typeof DEFAULTS;

/** Euler sampler ("Euler" in A1111) over the discrete training sigmas. */
export class EulerDiscreteScheduler extends SigmaScheduler<EulerDiscreteConfig> {
  readonly order = 1;

  constructor(config: RawSchedulerConfig, steps: number, overrides: Record<string, unknown> = {}) {
    const cfg = resolveConfig(DEFAULTS, config, overrides as Partial<EulerDiscreteConfig>);
    const train = trainingSigmas(cfg, cfg.rescale_betas_zero_snr);

    let schedule: SigmaSchedule;
    if (cfg.interpolation_type === 'linear') {
      schedule = sigmaSchedule(train, steps, {
        spacing: cfg.timestep_spacing,
        stepsOffset: cfg.steps_offset,
        isKarras: cfg.use_karras_sigmas,
        karrasMin: cfg.sigma_min,
        karrasMax: cfg.sigma_max,
      });
    } else if (cfg.interpolation_type === 'log_linear') {
      schedule = logLinearSchedule(train, steps, cfg);
    } else {
      throw new SdError(
        'unsupported-model',
        `Unknown interpolation_type "${cfg.interpolation_type}" for EulerDiscreteScheduler. Expected linear or log_linear.`,
      );
    }
    const callSigmas = schedule.sigmas.subarray(0, schedule.sigmas.length - 1);
    // EDM-style models (e.g. Playground v2.5) take 0.25 log(sigma) as their timestep.
    const timesteps =
      cfg.timestep_type === 'continuous' && cfg.prediction_type === 'v_prediction'
        ? callSigmas.map((s) => Math.fround(0.25 * Math.fround(Math.log(s))))
        : schedule.timesteps.map(Math.fround);
    super(cfg, timesteps, schedule.sigmas);
  }

  step({ modelOutput, stepIndex, sample }: StepInput): StepOutput {
    // 1. Noise levels of this call and the next (s_churn = 0, so sigma_hat = sigma).
    const sigma = this.sigmaAt(stepIndex);
    const sigmaNext = this.sigmaAt(stepIndex + 1);
    // 2. Predicted clean latents x0 from the model output.
    const denoised = predictX0AtSigma(this.config.prediction_type, modelOutput, sample, sigma);
    // 3. ODE derivative d = (x - x0) / sigma, and an Euler step of size dt = sigma_next - sigma.
    const dt = sigmaNext - sigma;
    const prevSample = new Float32Array(sample.length);
    for (let i = 0; i < sample.length; i++) {
      const x = sample[i] as number;
      prevSample[i] = x + ((x - (denoised[i] as number)) / sigma) * dt;
    }
    return { prevSample, denoised };
  }
}

/**
 * `interpolation_type: "log_linear"`: steps + 1 sigmas evenly spaced in log from the largest to the smallest
 * training sigma (a float32 torch.linspace), the spaced timesteps unchanged unless Karras replaces both.
 * diffusers then appends 0, so the schedule holds one sigma more than there are model calls.
 */
function logLinearSchedule(train: Float64Array, steps: number, cfg: EulerDiscreteConfig): SigmaSchedule {
  let timesteps: Float64Array = sigmaTimesteps(cfg.timestep_spacing, train.length, steps, cfg.steps_offset);
  const logMax = Math.fround(Math.log(train[train.length - 1] as number));
  const logMin = Math.fround(Math.log(train[0] as number));
  let sigmas: Float64Array = linspaceF32(logMax, logMin, steps + 1).map((v) => Math.fround(Math.exp(v)));
  if (cfg.use_karras_sigmas) {
    sigmas = karrasFrom(sigmas, steps, cfg.sigma_min, cfg.sigma_max);
    const logSigmas = logSigmasF32(train);
    timesteps = sigmas.map((s) => sigmaToTimestep(s, logSigmas));
  }
  return { timesteps, sigmas: withFinalSigma(sigmas) };
}
