// Port of diffusers 0.27.2 DDIMScheduler: deterministic DDIM (eta = 0, as diffusers' pipelines call it) with optional eta noise (A1111 "DDIM"; SD 2.x v-prediction default).
import type { RandomSource } from '../rng/random-source.ts';
import { SdError } from '../errors.ts';
import { alphaAt, BETA_DEFAULTS, trainingAlphasCumprod } from './alpha-schedule.ts';
import { AlphaScheduler } from './alpha-scheduler.ts';
import { alphaSigmaFromAlphaBar } from './alpha-sigma.ts';
import { nonlinearDefaults, resolveConfig } from './config.ts';
import { combine } from './linear-combination.ts';
import {
  checkPrediction,
  clipOrThreshold,
  epsilonFromX0,
  predictEpsilon,
  predictX0,
  THRESHOLD_DEFAULTS,
  x0FromEpsilon,
} from './prediction.ts';
import type { PredictionType, RawSchedulerConfig, StepInput, StepOutput } from './scheduler.ts';
import { checkSpacing, checkSteps, spacedTimesteps } from './timestep-spacing.ts';

const DEFAULTS = {
  ...BETA_DEFAULTS,
  ...THRESHOLD_DEFAULTS,
  clip_sample: true,
  clip_sample_range: 1.0,
  set_alpha_to_one: true,
  steps_offset: 0,
  prediction_type: 'epsilon',
  timestep_spacing: 'leading',
  rescale_betas_zero_snr: false,
};

const NAME = 'DDIMScheduler';

/**
 * DDIM (Song et al. 2021, arXiv:2010.02502, eqs. 12 and 16). `overrides.eta` (not a config key; the
 * pipeline's `eta` argument, default 0) sets the share of fresh noise.
 */
export class DDIMScheduler extends AlphaScheduler {
  /** x0 clipping (on by default, for pixel-space models) and dynamic thresholding make the step nonlinear. */
  static override readonly nonlinearOptions = nonlinearDefaults(DEFAULTS, ['clip_sample', 'thresholding']);
  private readonly config: typeof DEFAULTS;
  private readonly prediction: PredictionType;
  /** alpha_bar used after the last step: 1, or alpha_bar at t = 0 (`set_alpha_to_one`). */
  private readonly finalAlphaCumprod: number;
  private readonly stride: number;
  private readonly eta: number;

  constructor(raw: RawSchedulerConfig, steps: number, overrides: Record<string, unknown> = {}) {
    const c = resolveConfig(DEFAULTS, raw, overrides as Partial<typeof DEFAULTS>);
    checkSteps(steps, NAME, c.num_train_timesteps);
    const prediction = checkPrediction(c.prediction_type, NAME, ['epsilon', 'sample', 'v_prediction']);
    const eta = overrides['eta'] ?? 0;
    if (typeof eta !== 'number' || !(eta >= 0)) {
      throw new SdError(
        'bad-argument',
        `${NAME}: eta ${String(eta)} is not allowed. Use a number >= 0 (0 is deterministic DDIM).`,
      );
    }
    const alphasCumprod = trainingAlphasCumprod(c, c.rescale_betas_zero_snr);
    super(
      spacedTimesteps(checkSpacing(c.timestep_spacing, NAME), c.num_train_timesteps, steps, c.steps_offset),
      alphasCumprod,
    );
    this.prediction = prediction;
    this.eta = eta;
    this.config = c;
    this.finalAlphaCumprod = c.set_alpha_to_one ? 1 : (alphasCumprod[0] as number);
    // diffusers steps back by N // steps whatever the spacing.
    this.stride = Math.floor(c.num_train_timesteps / steps);
  }

  step({ modelOutput, stepIndex, sample, shape, rng }: StepInput): StepOutput {
    const c = this.config;
    const t = this.timestepAt(stepIndex);
    // 1. The previous timestep, t - N // steps.
    const prevT = t - this.stride;
    // 2. alpha_bar and beta_bar at both ends.
    const alphaT = alphaAt(this.alphasCumprod, t);
    const alphaPrev = prevT >= 0 ? alphaAt(this.alphasCumprod, prevT) : this.finalAlphaCumprod;
    const betaT = 1 - alphaT;
    // 3. Predicted x0 and noise (eq. 12); the epsilon and sample cases as linear combinations (this port's rounding).
    const coef = alphaSigmaFromAlphaBar(alphaT);
    const p = this.prediction;
    const predicted =
      p === 'epsilon' ? x0FromEpsilon(sample, modelOutput, coef) : predictX0(p, modelOutput, sample, coef);
    const eps =
      p === 'sample' ? epsilonFromX0(sample, modelOutput, coef) : predictEpsilon(p, modelOutput, sample, coef);
    // 4. Threshold or clip x0.
    const x0 = clipOrThreshold(predicted, shape, c);
    // 5. sigma_t(eta) of eq. 16.
    const variance = ((1 - alphaPrev) / betaT) * (1 - alphaT / alphaPrev);
    const std = this.eta * Math.sqrt(variance);
    // 6-7. x_{t-1} = sqrt(alpha_prev) x0 + sqrt(1 - alpha_prev - std^2) eps (+ std * noise).
    const prev = combine([
      [Math.sqrt(alphaPrev), x0],
      [Math.sqrt(1 - alphaPrev - std * std), eps],
    ]);
    return { prevSample: this.eta > 0 ? addScaledNoise(prev, std, rng, shape) : prev, denoised: x0 };
  }
}

function addScaledNoise(x: Float32Array, scale: number, rng: RandomSource, shape: readonly number[]): Float32Array {
  return combine([
    [1, x],
    [scale, rng.randn(shape)],
  ]);
}
