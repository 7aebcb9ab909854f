/**
 * The model output converted to what the schedulers integrate: the predicted clean latents x0 (or the
 * noise), for each `prediction_type`, in the two parameterisations diffusers 0.27.2 uses (VP alpha/sigma for
 * the alpha-based schedulers and the DPM-Solver family, a Karras sigma for the k-diffusion-style ones), and
 * the optional clipping or dynamic thresholding of x0.
 */
import { SdError } from '../errors.ts';
import type { AlphaSigma } from './alpha-sigma.ts';
import { combine } from './linear-combination.ts';
import type { PredictionType } from './scheduler.ts';

/** Validates a `prediction_type` config value. */
export function checkPrediction(value: unknown, scheduler: string, allowed: readonly PredictionType[]): PredictionType {
  if (allowed.includes(value as PredictionType)) return value as PredictionType;
  throw new SdError(
    'unsupported-model',
    `${scheduler}: prediction_type "${String(value)}" is not supported. Expected one of: ${allowed.join(', ')}.`,
  );
}

/** A conversion of the model output at VP coefficients. @returns a new Float32Array shaped like `sample` */
export type VpConversion = (
  prediction: PredictionType,
  modelOutput: Float32Array,
  sample: Float32Array,
  coefficients: AlphaSigma,
) => Float32Array;

/**
 * x0 from the model output at VP coefficients (diffusers' `convert_model_output`, data prediction):
 * epsilon: (x - sigma * eps) / alpha; sample: the output; v_prediction: alpha * x - sigma * v.
 */
export const predictX0: VpConversion = (prediction, modelOutput, sample, { alpha, sigma }) => {
  switch (prediction) {
    case 'epsilon':
      return sample.map((x, i) => (x - sigma * (modelOutput[i] as number)) / alpha);
    case 'sample':
      return modelOutput.slice();
    case 'v_prediction':
      return sample.map((x, i) => alpha * x - sigma * (modelOutput[i] as number));
  }
};

/**
 * The noise from the model output at VP coefficients (the form DPM-Solver and UniPC-noise use):
 * epsilon: the output; sample: (x - alpha * x0) / sigma; v_prediction: alpha * v + sigma * x.
 */
export const predictEpsilon: VpConversion = (prediction, modelOutput, sample, { alpha, sigma }) => {
  switch (prediction) {
    case 'epsilon':
      return modelOutput.slice();
    case 'sample':
      return sample.map((x, i) => (x - alpha * (modelOutput[i] as number)) / sigma);
    case 'v_prediction':
      return sample.map((x, i) => alpha * (modelOutput[i] as number) + sigma * x);
  }
};

/**
 * x0 = x / alpha - (sigma / alpha) * eps, as a linear combination (coefficients first, then one float32
 * rounding): the form DDIM and the thresholding round trip of DPM-Solver use, kept apart from `predictX0`'s
 * (x - sigma * eps) / alpha because the two round differently.
 */
export function x0FromEpsilon(sample: Float32Array, eps: Float32Array, { alpha, sigma }: AlphaSigma): Float32Array {
  return combine([
    [1 / alpha, sample],
    [-sigma / alpha, eps],
  ]);
}

/** eps = x / sigma - (alpha / sigma) * x0, as a linear combination (the counterpart of `x0FromEpsilon`). */
export function epsilonFromX0(sample: Float32Array, x0: Float32Array, { alpha, sigma }: AlphaSigma): Float32Array {
  return combine([
    [1 / sigma, sample],
    [-alpha / sigma, x0],
  ]);
}

/**
 * The k-diffusion-style classes whose diffusers step has no "sample" branch (Euler a, KDPM2, KDPM2 a) reject it.
 * @param instead what the message suggests, e.g. 'the "Euler" sampler'
 * @throws SdError 'unsupported-model' for prediction_type "sample"
 */
export function rejectSamplePrediction(predictionType: string, scheduler: string, instead: string): void {
  if (predictionType === 'sample') {
    throw new SdError(
      'unsupported-model',
      `${scheduler} does not support prediction_type "sample" (diffusers neither). Use ${instead} for this model.`,
    );
  }
}

/**
 * x0 from the model output at noise level `sigma` (k-diffusion parameterisation, x = x0 + sigma * noise):
 * epsilon: x - sigma * eps; v_prediction: eps * (-sigma / sqrt(sigma^2 + 1)) + x / (sigma^2 + 1); sample: eps.
 * @returns a new Float32Array shaped like `sample`
 * @throws SdError 'unsupported-model' for an unknown prediction type
 */
export function predictX0AtSigma(
  predictionType: string,
  modelOutput: Float32Array,
  sample: Float32Array,
  sigma: number,
): Float32Array {
  const out = new Float32Array(sample.length);
  // float32 roundings where torch rounds (a one-ulp difference is amplified by later midpoint steps)
  const f32 = Math.fround;
  if (predictionType === 'epsilon') {
    for (let i = 0; i < out.length; i++) out[i] = (sample[i] as number) - f32(sigma * (modelOutput[i] as number));
  } else if (predictionType === 'v_prediction') {
    const sigmaSq1 = f32(f32(sigma * sigma) + 1);
    const cOut = f32(-sigma / f32(Math.sqrt(sigmaSq1)));
    for (let i = 0; i < out.length; i++)
      out[i] = f32((modelOutput[i] as number) * cOut) + f32((sample[i] as number) / sigmaSq1);
  } else if (predictionType === 'sample' || predictionType === 'original_sample') {
    out.set(modelOutput);
  } else {
    throw new SdError(
      'unsupported-model',
      `Unknown prediction_type "${predictionType}" in scheduler_config.json. Expected one of: epsilon, v_prediction, sample.`,
    );
  }
  return out;
}

/** The dynamic-thresholding config keys, with the defaults every diffusers class that takes them has. */
export const THRESHOLD_DEFAULTS = {
  thresholding: false,
  dynamic_thresholding_ratio: 0.995,
  sample_max_value: 1.0,
};

/** The config keys that limit x0, by diffusers' names; each class has those it supports. */
export interface X0LimitConfig {
  clip_sample?: boolean;
  clip_sample_range?: number;
  thresholding?: boolean;
  dynamic_thresholding_ratio?: number;
  sample_max_value?: number;
}

/**
 * diffusers' step 'Clip or threshold "predicted x_0"': dynamic thresholding when `thresholding` is on, else
 * clamping into [-clip_sample_range, clip_sample_range] when `clip_sample` is on, else x0 unchanged. Both
 * make the step nonlinear in the latents (see each class's `nonlinearOptions`).
 * @param x0 the prediction, clamped in place
 * @param shape [batch, ...] of `x0`
 */
export function clipOrThreshold(x0: Float32Array, shape: readonly number[], config: X0LimitConfig): Float32Array {
  if (config.thresholding) {
    return thresholdSample(x0, shape, config.dynamic_thresholding_ratio as number, config.sample_max_value as number);
  }
  if (config.clip_sample) {
    const range = config.clip_sample_range as number;
    for (let i = 0; i < x0.length; i++) x0[i] = Math.min(Math.max(x0[i] as number, -range), range);
  }
  return x0;
}

/**
 * Dynamic thresholding (Saharia et al. 2022, Imagen): per batch item, s = the `ratio` quantile of |x0|
 * clamped to [1, maxValue]; x0 is clipped to [-s, s] and divided by s. Off for latent diffusion.
 * @param shape [batch, ...] of `x0`
 */
export function thresholdSample(
  x0: Float32Array,
  shape: readonly number[],
  ratio: number,
  maxValue: number,
): Float32Array {
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
