/**
 * Shared pieces of the DPM-Solver family as diffusers 0.27.2 writes them (DPMSolverMultistep,
 * DPMSolverSinglestep, UniPCMultistep, DEISMultistep): the VP noise schedule in sigma form
 * (Lu et al. 2022, "DPM-Solver"), the inference sigma schedule, conversion of the model output to a
 * data or noise prediction, and elementwise linear combinations of latents.
 */
import { SdError } from '../errors.ts';
import { BETA_DEFAULTS, trainingAlphasCumprod } from './alpha-schedule.ts';
import { linspace } from './betas.ts';
import type { PredictionType } from './scheduler.ts';
import { sigmaToTimestep, trainSigmas } from './sigmas.ts';
import { checkSpacing, roundHalfEven, solverTimesteps, type TimestepSpacing } from './timestep-spacing.ts';

const f32 = Math.fround;

/** Config keys (and diffusers' defaults) every solver of the family takes. */
export const SOLVER_DEFAULTS = {
  ...BETA_DEFAULTS,
  solver_order: 2,
  prediction_type: 'epsilon',
  thresholding: false,
  dynamic_thresholding_ratio: 0.995,
  sample_max_value: 1.0,
};

/** The thresholding part of a solver config. */
export type ThresholdConfig = Pick<typeof SOLVER_DEFAULTS, 'thresholding' | 'dynamic_thresholding_ratio' | 'sample_max_value'>;

/** VP coefficients of a noise level: x_t = alpha * x0 + sigma * noise, with alpha² + sigma² = 1. */
export interface AlphaSigma {
  alpha: number;
  sigma: number;
  /** Half log-SNR, log(alpha) - log(sigma); +Infinity at sigma = 0. */
  lambda: number;
}

/** diffusers' `_sigma_to_alpha_sigma_t` for a Karras-style sigma = sqrt((1 - alpha_bar) / alpha_bar). */
export function alphaSigma(karrasSigma: number): AlphaSigma {
  const alpha = 1 / Math.sqrt(karrasSigma * karrasSigma + 1);
  const sigma = karrasSigma * alpha;
  return { alpha, sigma, lambda: Math.log(alpha) - Math.log(sigma) };
}

/**
 * Coefficients of one DPM-Solver(++) step from `s` to `t` (h = lambda_t - lambda_s), for
 * x_t = a * x_s + b * D0 + c1 * D1 + c2 * D2: b alone is first order (DDIM); midpoint second order uses
 * 0.5 * b on D1, Heun-type second and third order use c1 and c2 (Lu et al. 2022, both papers).
 * @param dataPrediction DPM-Solver++ (D are x0 predictions) rather than DPM-Solver (D are noise)
 */
export function solverCoefficients(
  t: AlphaSigma,
  s: AlphaSigma,
  dataPrediction: boolean,
): { a: number; b: number; c1: number; c2: number } {
  const h = t.lambda - s.lambda;
  if (dataPrediction) {
    const phi = Math.expm1(-h);
    return { a: t.sigma / s.sigma, b: -t.alpha * phi, c1: t.alpha * (phi / h + 1), c2: -t.alpha * ((phi + h) / (h * h) - 0.5) };
  }
  const phi = Math.expm1(h);
  return { a: t.alpha / s.alpha, b: -t.sigma * phi, c1: -t.sigma * (phi / h - 1), c2: -t.sigma * ((phi - h) / (h * h) - 0.5) };
}

/** Where the last sigma (after the final model call) comes from. */
export type FinalSigma = 'zero' | 'sigma_min' | 'repeat_last';

export interface SolverScheduleOptions {
  /** alphas_cumprod as float32 values, [num_train_timesteps]. */
  alphasCumprod: Float64Array;
  steps: number;
  spacing: TimestepSpacing;
  stepsOffset: number;
  useKarrasSigmas: boolean;
  useLuLambdas?: boolean;
  finalSigma: FinalSigma;
  /** N minus the timesteps cut by `lambda_min_clipped` (N when nothing is clipped). */
  lastTimestep?: number;
}

export interface SolverSchedule {
  /** Training timestep of each model call, Float64Array [steps]. */
  timesteps: Float64Array;
  /** Karras-style sigma before each call plus the final one, float32 values, Float64Array [steps + 1]. */
  sigmas: Float64Array;
}

/**
 * The `set_timesteps` of the DPM-Solver family: spaced (or Karras / log-uniform) timesteps and their
 * sigmas. Karras and Lu timesteps are `round(_sigma_to_t(sigma))`, so they must agree exactly with
 * diffusers: the ramp is numpy's linspace (i * (1 / (n - 1))) and the rounding is half-to-even.
 */
export function solverSchedule(o: SolverScheduleOptions): SolverSchedule {
  const n = o.alphasCumprod.length;
  const trained = trainSigmas(o.alphasCumprod);
  const logTrained = trained.map((s) => f32(Math.log(s)));
  let timesteps: Float64Array;
  let sigmas: Float64Array;
  if (o.useKarrasSigmas || o.useLuLambdas) {
    const sigmaMin = trained[0] as number;
    const sigmaMax = trained[n - 1] as number;
    const ramp = linspace(0, 1, o.steps);
    sigmas = o.useKarrasSigmas
      ? ramp.map((r) => {
          const maxInv = sigmaMax ** (1 / 7);
          return (maxInv + r * (sigmaMin ** (1 / 7) - maxInv)) ** 7;
        })
      : ramp.map((r) => {
          const lambdaMax = logTrained[n - 1] as number;
          return Math.exp(lambdaMax + r * ((logTrained[0] as number) - lambdaMax));
        });
    timesteps = sigmas.map((s) => roundHalfEven(sigmaToTimestep(s, logTrained)));
  } else {
    timesteps = solverTimesteps(o.spacing, n, o.steps, o.stepsOffset, o.lastTimestep ?? n);
    // np.interp at whole timesteps: the training sigma itself, clamped at both ends.
    sigmas = timesteps.map((t) => trained[Math.min(Math.max(t, 0), n - 1)] as number);
  }
  const last =
    o.finalSigma === 'zero' ? 0 : o.finalSigma === 'sigma_min' ? (trained[0] as number) : (sigmas[sigmas.length - 1] as number);
  const all = new Float64Array(sigmas.length + 1);
  all.set(sigmas.map(f32));
  all[sigmas.length] = f32(last);
  return { timesteps, sigmas: all };
}

/**
 * The schedule of UniPC and DEIS in 0.27.2, which have no `final_sigmas_type`: spaced or Karras
 * timesteps, ending at the smallest training sigma (with Karras sigmas: the last sigma repeated).
 */
export function legacySolverSchedule(
  config: typeof SOLVER_DEFAULTS & { timestep_spacing: string; steps_offset: number; use_karras_sigmas: boolean },
  steps: number,
  scheduler: string,
): SolverSchedule {
  return solverSchedule({
    alphasCumprod: trainingAlphasCumprod(config),
    steps,
    spacing: checkSpacing(config.timestep_spacing, scheduler),
    stepsOffset: config.steps_offset,
    useKarrasSigmas: config.use_karras_sigmas,
    finalSigma: config.use_karras_sigmas ? 'repeat_last' : 'sigma_min',
  });
}

/**
 * `lambda_min_clipped` support: how many of the lowest-SNR training timesteps have
 * lambda = log(alpha) - log(sigma) below the threshold (torch.searchsorted on the flipped lambdas).
 */
export function clippedTimestepCount(alphasCumprod: Float64Array, lambdaMinClipped: number): number {
  if (!(lambdaMinClipped > -Infinity)) return 0;
  let count = 0;
  for (const a of alphasCumprod) {
    const lambda = f32(f32(Math.log(f32(Math.sqrt(a)))) - f32(Math.log(f32(Math.sqrt(f32(1 - a))))));
    if (lambda < lambdaMinClipped) count++;
  }
  return count;
}

/** x0 predicted from the model output at a noise level (the data-prediction form DPM-Solver++ uses). */
export function predictX0(
  prediction: PredictionType,
  modelOutput: Float32Array,
  sample: Float32Array,
  { alpha, sigma }: AlphaSigma,
): Float32Array {
  switch (prediction) {
    case 'epsilon':
      return sample.map((x, i) => (x - sigma * (modelOutput[i] as number)) / alpha);
    case 'sample':
      return modelOutput.slice();
    case 'v_prediction':
      return sample.map((x, i) => alpha * x - sigma * (modelOutput[i] as number));
  }
}

/** `predictX0`, then dynamic thresholding when the config enables it. */
export function predictX0Thresholded(
  config: ThresholdConfig,
  prediction: PredictionType,
  modelOutput: Float32Array,
  sample: Float32Array,
  coef: AlphaSigma,
  shape: readonly number[],
): Float32Array {
  const x0 = predictX0(prediction, modelOutput, sample, coef);
  return config.thresholding ? thresholdSample(x0, shape, config.dynamic_thresholding_ratio, config.sample_max_value) : x0;
}

/** The noise predicted from the model output at a noise level (the form DPM-Solver and UniPC-noise use). */
export function predictEpsilon(
  prediction: PredictionType,
  modelOutput: Float32Array,
  sample: Float32Array,
  { alpha, sigma }: AlphaSigma,
): Float32Array {
  switch (prediction) {
    case 'epsilon':
      return modelOutput.slice();
    case 'sample':
      return sample.map((x, i) => (x - alpha * (modelOutput[i] as number)) / sigma);
    case 'v_prediction':
      return sample.map((x, i) => alpha * (modelOutput[i] as number) + sigma * x);
  }
}

/** Validates a `prediction_type` config value. */
export function checkPrediction(value: unknown, scheduler: string, allowed: readonly PredictionType[]): PredictionType {
  if (allowed.includes(value as PredictionType)) return value as PredictionType;
  throw new SdError(
    'unsupported-model',
    `${scheduler}: prediction_type "${String(value)}" is not supported. Expected one of: ${allowed.join(', ')}.`,
  );
}

/** A latent-sized array and its coefficient in a linear combination. */
export type Term = readonly [coefficient: number, values: ArrayLike<number>];

/**
 * sum_k c_k * v_k elementwise, accumulated in float64 and stored as float32 (the coefficients are
 * scalars diffusers computes from float32 sigmas; here they stay float64).
 */
export function combine(terms: readonly Term[]): Float32Array {
  const first = terms[0];
  if (first === undefined) throw new SdError('internal', 'combine() needs at least one term.');
  const n = first[1].length;
  const acc = new Float64Array(n);
  for (const [c, v] of terms) {
    if (c === 0) continue;
    for (let i = 0; i < n; i++) acc[i] = (acc[i] as number) + c * (v[i] as number);
  }
  return Float32Array.from(acc);
}

/**
 * Dynamic thresholding (Saharia et al. 2022, Imagen): per batch item, s = the `ratio` quantile of |x0|
 * clamped to [1, maxValue]; x0 is clipped to [-s, s] and divided by s. Off for latent diffusion.
 * @param shape [batch, ...] of `x0`
 */
export function thresholdSample(x0: Float32Array, shape: readonly number[], ratio: number, maxValue: number): Float32Array {
  const batch = shape[0] ?? 1;
  const per = x0.length / batch;
  const out = new Float32Array(x0.length);
  for (let b = 0; b < batch; b++) {
    const item = x0.subarray(b * per, (b + 1) * per);
    const sorted = Float64Array.from(item, Math.abs).sort();
    const pos = ratio * (per - 1);
    const lo = Math.floor(pos);
    const hi = Math.min(lo + 1, per - 1);
    const q = (sorted[lo] as number) + ((sorted[hi] as number) - (sorted[lo] as number)) * (pos - lo);
    const s = Math.min(Math.max(q, 1), maxValue);
    for (let i = 0; i < per; i++) out[b * per + i] = Math.min(Math.max(item[i] as number, -s), s) / s;
  }
  return out;
}
