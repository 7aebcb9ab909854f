// Port of diffusers 0.27.2 LCMScheduler (Luo et al. 2023, latent consistency models): each call jumps to a consistency-function estimate of x0, then re-noises to the next timestep.
import { SdError } from '../errors.ts';
import { alphaAt, BETA_DEFAULTS, ddpmAddNoise, trainingAlphasCumprod } from './alpha-schedule.ts';
import { AlphaScheduler } from './alpha-scheduler.ts';
import { alphaSigmaFromAlphaBar } from './alpha-sigma.ts';
import { nonlinearDefaults, resolveConfig } from './config.ts';
import { checkPrediction, clipOrThreshold, predictX0, THRESHOLD_DEFAULTS } from './prediction.ts';
import type { PredictionType, RawSchedulerConfig, StepInput, StepOutput } from './scheduler.ts';

const DEFAULTS = {
  ...BETA_DEFAULTS,
  beta_start: 0.00085,
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  ...THRESHOLD_DEFAULTS,
  original_inference_steps: 50,
  clip_sample: false,
  clip_sample_range: 1.0,
  // Only used by diffusers for a negative next timestep, which LCM's schedule never has.
  set_alpha_to_one: true,
  steps_offset: 0,
  prediction_type: 'epsilon',
  timestep_spacing: 'leading',
  timestep_scaling: 10.0,
  rescale_betas_zero_snr: false,
};

/** LCMScheduler's resolved config (snake_case keys, as `scheduler_config.json`). */
export type LcmConfig = typeof DEFAULTS;

/** sigma_data of the consistency-model boundary condition (Song et al. 2023). */
const SIGMA_DATA = 0.5;

/** Latent consistency sampler ("LCM" in A1111), for LCM-distilled models or LCM-LoRA. */
export class LCMScheduler extends AlphaScheduler {
  /** x0 clipping and dynamic thresholding make the step nonlinear. */
  static override readonly nonlinearOptions = nonlinearDefaults(DEFAULTS, ['clip_sample', 'thresholding']);
  readonly config: LcmConfig;
  private readonly prediction: PredictionType;

  constructor(config: RawSchedulerConfig, steps: number, overrides: Record<string, unknown> = {}) {
    const cfg = resolveConfig(DEFAULTS, config, overrides as Partial<LcmConfig>);
    const prediction = checkPrediction(cfg.prediction_type, 'LCMScheduler', ['epsilon', 'v_prediction', 'sample']);
    const alphasCumprod = trainingAlphasCumprod(cfg, cfg.rescale_betas_zero_snr);
    super(lcmTimesteps(cfg, steps), alphasCumprod);
    this.config = cfg;
    this.prediction = prediction;
  }

  step({ modelOutput, stepIndex, sample, shape, rng }: StepInput): StepOutput {
    const cfg = this.config;
    // 1. This timestep and the next one (the last step reuses its own).
    const t = this.timestepAt(stepIndex);
    const isLast = stepIndex === this.timesteps.length - 1;
    const prevT = isLast ? t : this.timestepAt(stepIndex + 1);
    // 2. Boundary-condition scalings, so that the estimate is the identity at t = 0.
    const scaled = t * cfg.timestep_scaling;
    const cSkip = SIGMA_DATA ** 2 / (scaled ** 2 + SIGMA_DATA ** 2);
    const cOut = scaled / Math.sqrt(scaled ** 2 + SIGMA_DATA ** 2);
    // 3. Predicted x0 from the model parameterisation (at alpha_bar_t), 4. clipped or thresholded.
    const alphaProd = alphaAt(this.alphasCumprod, t);
    const x0 = predictX0(this.prediction, modelOutput, sample, alphaSigmaFromAlphaBar(alphaProd));
    const predicted = clipOrThreshold(x0, shape, cfg);
    // 5. Consistency estimate: c_out * x0 + c_skip * x_t.
    const denoised = new Float32Array(sample.length);
    for (let i = 0; i < sample.length; i++) {
      denoised[i] = cOut * (predicted[i] as number) + cSkip * (sample[i] as number);
    }
    // 6. Re-noise to the next timestep with fresh noise, except after the last call (so never for one step).
    const prevSample = isLast ? denoised : ddpmAddNoise(this.alphasCumprod, denoised, rng.randn(shape), prevT);
    return { prevSample, denoised };
  }
}

/**
 * LCM's inference timesteps: the distillation schedule (every N / original_inference_steps-th training
 * timestep, ending at k - 1), reversed, sampled at floor(linspace(0, len, steps, endpoint=False)).
 * @throws SdError 'bad-argument' when steps exceed original_inference_steps, as diffusers does
 */
function lcmTimesteps(cfg: LcmConfig, steps: number): Float64Array {
  const original = cfg.original_inference_steps;
  if (original > cfg.num_train_timesteps || steps > original) {
    throw new SdError(
      'bad-argument',
      `LCMScheduler cannot take ${steps} steps: at most original_inference_steps = ${original} (from the model's scheduler_config.json). Use ${Math.min(original, cfg.num_train_timesteps)} steps or fewer; LCM models usually need 2 to 8.`,
    );
  }
  const k = Math.floor(cfg.num_train_timesteps / original);
  const origin = Float64Array.from({ length: original }, (_, i) => (original - i) * k - 1);
  // np.floor(np.linspace(0, len, steps, endpoint=False)): index i * len / steps, rounded down.
  return Float64Array.from({ length: steps }, (_, i) => origin[Math.floor(i * (original / steps))] as number);
}
