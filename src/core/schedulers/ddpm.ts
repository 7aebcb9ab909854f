// Port of diffusers 0.27.2 DDPMScheduler (Ho et al. 2020): ancestral sampling of the posterior q(x_(t-1) | x_t, x0), fresh noise at every t > 0.
import { SdError } from '../errors.ts';
import { alphaAt, BETA_DEFAULTS, trainingAlphasCumprod } from './alpha-schedule.ts';
import { AlphaScheduler } from './alpha-scheduler.ts';
import { alphaSigmaFromAlphaBar } from './alpha-sigma.ts';
import { sigmoidBetas, trainBetas } from './betas.ts';
import { nonlinearDefaults, resolveConfig } from './config.ts';
import { checkPrediction, clipOrThreshold, predictX0, THRESHOLD_DEFAULTS } from './prediction.ts';
import type { PredictionType, RawSchedulerConfig, StepInput, StepOutput } from './scheduler.ts';
import { checkSpacing, spacedTimesteps } from './timestep-spacing.ts';

const PREDICTIONS: readonly PredictionType[] = ['epsilon', 'v_prediction', 'sample'];

const DEFAULTS = {
  ...BETA_DEFAULTS,
  ...THRESHOLD_DEFAULTS,
  variance_type: 'fixed_small',
  clip_sample: true,
  clip_sample_range: 1.0,
  prediction_type: 'epsilon',
  timestep_spacing: 'leading',
  steps_offset: 0,
  rescale_betas_zero_snr: false,
};

/** DDPMScheduler's resolved config (snake_case keys, as `scheduler_config.json`). */
export type DdpmConfig = typeof DEFAULTS;

/** DDPM sampler ("DDPM" in A1111). Timesteps are integers; the model input is not scaled. */
export class DDPMScheduler extends AlphaScheduler {
  /** x0 clipping (on by default, for pixel-space models) and dynamic thresholding make the step nonlinear. */
  static override readonly nonlinearOptions = nonlinearDefaults(DEFAULTS, ['clip_sample', 'thresholding']);
  readonly config: DdpmConfig;
  private readonly stride: number;
  private readonly prediction: PredictionType;

  constructor(config: RawSchedulerConfig, steps: number, overrides: Record<string, unknown> = {}) {
    const cfg = resolveConfig(DEFAULTS, config, overrides as Partial<DdpmConfig>);
    if (cfg.variance_type === 'learned' || cfg.variance_type === 'learned_range') {
      throw new SdError(
        'unsupported-model',
        `DDPMScheduler variance_type "${cfg.variance_type}" needs a model that also predicts its variance; Stable Diffusion UNets do not. Use fixed_small, fixed_small_log, fixed_large or fixed_large_log.`,
      );
    }
    const n = cfg.num_train_timesteps;
    if (steps > n) {
      throw new SdError(
        'bad-argument',
        `DDPMScheduler cannot take ${steps} steps: at most num_train_timesteps = ${n}. Use fewer steps.`,
      );
    }
    const betas = cfg.beta_schedule === 'sigmoid' ? sigmoidBetas(cfg) : trainBetas(cfg);
    const alphasCumprod = trainingAlphasCumprod(cfg, cfg.rescale_betas_zero_snr, betas);
    const prediction = checkPrediction(cfg.prediction_type, 'DDPMScheduler', PREDICTIONS);
    // Integer timesteps, as DDIM and PNDM space them.
    super(
      spacedTimesteps(checkSpacing(cfg.timestep_spacing, 'DDPMScheduler'), n, steps, cfg.steps_offset),
      alphasCumprod,
    );
    this.config = cfg;
    this.prediction = prediction;
    this.stride = Math.floor(n / steps);
  }

  step({ modelOutput, stepIndex, sample, shape, rng }: StepInput): StepOutput {
    const cfg = this.config;
    // 1. alpha_bar at t and at the previous timestep t - N / steps (1 before the start of the chain).
    const t = this.timestepAt(stepIndex);
    const prevT = t - this.stride;
    const alphaProd = alphaAt(this.alphasCumprod, t);
    const alphaProdPrev = prevT >= 0 ? alphaAt(this.alphasCumprod, prevT) : 1;
    const betaProd = 1 - alphaProd;
    const betaProdPrev = 1 - alphaProdPrev;
    const currentAlpha = alphaProd / alphaProdPrev;
    const currentBeta = 1 - currentAlpha;
    // 2. Predicted x0 (Ho et al. eq. 15).
    const predicted = predictX0(this.prediction, modelOutput, sample, alphaSigmaFromAlphaBar(alphaProd));
    // 3. Clip or dynamically threshold x0.
    const denoised = clipOrThreshold(predicted, shape, cfg);
    // 4. Posterior mean coefficients (eq. 7).
    const x0Coeff = (Math.sqrt(alphaProdPrev) * currentBeta) / betaProd;
    const xtCoeff = (Math.sqrt(currentAlpha) * betaProdPrev) / betaProd;
    // 5. Noise with the posterior's standard deviation, only while t > 0.
    const std = t > 0 ? this.noiseStd(alphaProd, alphaProdPrev, currentBeta) : 0;
    const noise = t > 0 ? rng.randn(shape) : null;
    const prevSample = new Float32Array(sample.length);
    for (let i = 0; i < sample.length; i++) {
      const mean = Math.fround(x0Coeff * (denoised[i] as number) + xtCoeff * (sample[i] as number));
      prevSample[i] = noise ? mean + std * (noise[i] as number) : mean;
    }
    return { prevSample, denoised };
  }

  /** diffusers' `_get_variance` turned into the standard deviation the noise is multiplied by. */
  private noiseStd(alphaProd: number, alphaProdPrev: number, currentBeta: number): number {
    // Posterior variance beta~_t (eq. 7), floored so its log stays finite.
    const variance = Math.max(((1 - alphaProdPrev) / (1 - alphaProd)) * currentBeta, 1e-20);
    switch (this.config.variance_type) {
      case 'fixed_small_log':
        return Math.exp(0.5 * Math.log(variance));
      case 'fixed_large':
        return Math.sqrt(currentBeta);
      case 'fixed_large_log':
        // diffusers takes the square root of log(beta) here (NaN for beta < 1); kept for parity.
        return Math.sqrt(Math.log(currentBeta));
      default:
        // 'fixed_small', and (as in diffusers, which falls through) null or any unrecognised value.
        return Math.sqrt(variance);
    }
  }
}
