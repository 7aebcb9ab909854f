/**
 * Sigma math shared by the k-diffusion-style schedulers (Karras et al. 2022 notation:
 * sigma = sqrt((1 - alpha_bar) / alpha_bar)), and the training and Karras sigmas the DPM-Solver family
 * builds its schedule from.
 */
import { SdError } from '../errors.ts';
import { finiteSigmaAlphasCumprod } from './alpha-schedule.ts';
import { linspace, type BetaConfig } from './betas.ts';
import { spacedTimesteps } from './timestep-spacing.ts';

/** sigma for each training timestep, from alphas_cumprod, in float32 as diffusers computes it. */
export function trainSigmas(alphasCumprod: Float64Array): Float64Array {
  return alphasCumprod.map((a) => Math.fround(Math.sqrt(Math.fround(Math.fround(1 - a) / a))));
}

/**
 * The training sigmas of a config's beta schedule (Euler, LMS, KDPM2), after the optional zero-terminal-SNR
 * rescale with its finite first sigma (`finiteSigmaAlphasCumprod`). Float64Array [num_train_timesteps].
 */
export function trainingSigmas(config: BetaConfig, rescaleZeroSnr = false): Float64Array {
  return trainSigmas(finiteSigmaAlphasCumprod(config, rescaleZeroSnr));
}

/** np.interp(x, xp, fp) for ascending xp. */
export function interp(x: number, xp: ArrayLike<number>, fp: ArrayLike<number>): number {
  const n = xp.length;
  if (x <= (xp[0] as number)) return fp[0] as number;
  if (x >= (xp[n - 1] as number)) return fp[n - 1] as number;
  let lo = 0;
  let hi = n - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if ((xp[mid] as number) <= x) lo = mid;
    else hi = mid;
  }
  const x0 = xp[lo] as number;
  const x1 = xp[hi] as number;
  const y0 = fp[lo] as number;
  const y1 = fp[hi] as number;
  return y0 + ((x - x0) * (y1 - y0)) / (x1 - x0);
}

/**
 * Karras et al. (2022) eq. 5 noise levels (diffusers' `_convert_to_karras`): one sigma per ramp value, from
 * sigmaMax (ramp 0) down to sigmaMin (ramp 1), with rho = 7.
 * @param ramp ascending values in [0, 1]: `karrasRamp(count)` for the k-diffusion-style classes, numpy's
 *   `linspace(0, 1, count)` for the DPM-Solver family (its rounded timesteps depend on those exact values)
 */
export function karrasSigmas(sigmaMin: number, sigmaMax: number, ramp: ArrayLike<number>, rho = 7): Float64Array {
  const minInv = sigmaMin ** (1 / rho);
  const maxInv = sigmaMax ** (1 / rho);
  return Float64Array.from(ramp, (r) => (maxInv + r * (minInv - maxInv)) ** rho);
}

/** The ramp i / (count - 1) (0 for one step) of the k-diffusion-style classes' Karras sigmas. */
export function karrasRamp(count: number): Float64Array {
  return Float64Array.from({ length: count }, (_, i) => (count === 1 ? 0 : i / (count - 1)));
}

/**
 * diffusers' `_sigma_to_t`: the fractional training timestep whose sigma equals `sigma`, by linear
 * interpolation in log-sigma between the two neighbouring training timesteps.
 * @param logSigmas log of the training sigmas, ascending with t
 */
export function sigmaToTimestep(sigma: number, logSigmas: ArrayLike<number>): number {
  const logSigma = Math.log(Math.max(sigma, 1e-10));
  const n = logSigmas.length;
  // index of the last training log-sigma <= logSigma (0 when none), capped so that low+1 exists
  let low = 0;
  for (let i = 0; i < n; i++) if (logSigma - (logSigmas[i] as number) >= 0) low = i;
  low = Math.min(low, n - 2);
  const lo = logSigmas[low] as number;
  const hi = logSigmas[low + 1] as number;
  const w = Math.min(Math.max((lo - logSigma) / (lo - hi), 0), 1);
  return (1 - w) * low + w * (low + 1);
}

/**
 * Inference timesteps of the k-diffusion-style schedulers (Euler, Heun, LMS, KDPM2 and their ancestral
 * variants) for diffusers' `timestep_spacing` (Table 2 of Lin et al. 2023), descending, float32 values.
 * Note the diffusers quirks kept here: `linspace` with one step gives timestep 0, and `trailing` can give
 * one timestep more than asked (numpy's arange length rounding), e.g. 62 for 61 steps.
 * @throws SdError 'unsupported-model' for an unknown spacing
 */
export function sigmaTimesteps(
  spacing: string,
  numTrainTimesteps: number,
  steps: number,
  stepsOffset: number,
): Float64Array {
  switch (spacing) {
    case 'linspace':
      return linspace(0, numTrainTimesteps - 1, steps)
        .map(Math.fround)
        .reverse();
    case 'leading':
    case 'trailing':
      // the timesteps of DDIM and PNDM, held as float32
      return spacedTimesteps(spacing, numTrainTimesteps, steps, stepsOffset).map(Math.fround);
    default:
      throw new SdError(
        'unsupported-model',
        `Unknown timestep_spacing "${spacing}" in scheduler_config.json. Expected one of: linspace, leading, trailing.`,
      );
  }
}

/** np.log of the float32 training sigmas, kept in float32 as numpy does. */
export function logSigmasF32(trainSigmas: Float64Array): Float64Array {
  return trainSigmas.map((s) => Math.fround(Math.log(s)));
}

/** What `set_timesteps` of the k-diffusion-style schedulers computes before the class-specific part. */
export interface SigmaSchedule {
  /** One timestep per inference step as diffusers computed it in float64 (callers cast where diffusers does). */
  timesteps: Float64Array;
  /** Noise level for each timestep, then a final 0: float32 values, length timesteps.length + 1. */
  sigmas: Float64Array;
}

export interface SigmaScheduleOptions {
  spacing: string;
  stepsOffset: number;
  isKarras: boolean;
  /** Euler only: config `sigma_min` / `sigma_max` override the Karras range ends. */
  karrasMin?: number | null;
  karrasMax?: number | null;
}

/**
 * Shared start of `set_timesteps` for Euler, Heun, LMS and KDPM2: spaced timesteps, training sigmas linearly
 * interpolated at them (np.interp, float64), optionally replaced by Karras sigmas whose timesteps are then
 * found back with `sigmaToTimestep`, and a final sigma of 0.
 */
export function sigmaSchedule(trainSigmas: Float64Array, steps: number, options: SigmaScheduleOptions): SigmaSchedule {
  let timesteps: Float64Array = sigmaTimesteps(options.spacing, trainSigmas.length, steps, options.stepsOffset);
  const grid = Float64Array.from(trainSigmas, (_, i) => i);
  let sigmas: Float64Array = timesteps.map((t) => interp(t, grid, trainSigmas));
  if (options.isKarras) {
    // diffusers makes num_inference_steps Karras sigmas, even when trailing spacing gave one timestep more
    sigmas = karrasFrom(sigmas, steps, options.karrasMin, options.karrasMax);
    const logSigmas = logSigmasF32(trainSigmas);
    timesteps = sigmas.map((s) => sigmaToTimestep(s, logSigmas));
  }
  return { timesteps, sigmas: withFinalSigma(sigmas) };
}

/** `_convert_to_karras`: Karras sigmas spanning the given (descending) sigmas, or the config's range ends. */
export function karrasFrom(
  sigmas: Float64Array,
  count: number,
  sigmaMin?: number | null,
  sigmaMax?: number | null,
): Float64Array {
  const min = sigmaMin ?? (sigmas[sigmas.length - 1] as number);
  const max = sigmaMax ?? (sigmas[0] as number);
  return karrasSigmas(min, max, karrasRamp(count));
}

/** np.concatenate([sigmas, [last]]).astype(np.float32): the schedule with its final sigma (0 unless given). */
export function withFinalSigma(sigmas: Float64Array, last = 0): Float64Array {
  const out = new Float64Array(sigmas.length + 1);
  for (let i = 0; i < sigmas.length; i++) out[i] = Math.fround(sigmas[i] as number);
  out[sigmas.length] = Math.fround(last);
  return out;
}

/** `init_noise_sigma` of the sigma schedulers: the largest sigma, or sqrt(max^2 + 1) unless spacing is linspace/trailing. */
export function sigmaInitNoise(sigmas: ArrayLike<number>, spacing: string): number {
  let max = 0;
  for (let i = 0; i < sigmas.length; i++) max = Math.max(max, sigmas[i] as number);
  return spacing === 'linspace' || spacing === 'trailing' ? max : Math.fround(Math.sqrt(max * max + 1));
}

/** `scale_model_input` of the sigma schedulers: the factor 1 / sqrt(sigma^2 + 1). */
export function sigmaInputScale(sigma: number): number {
  return 1 / Math.sqrt(sigma * sigma + 1);
}

/**
 * k-diffusion's `get_ancestral_step` with eta = 1, in float32 like diffusers' tensor arithmetic on the float32
 * sigmas: the move from `sigmaFrom` to `sigmaTo` split into a deterministic part down to `sigmaDown` and fresh
 * noise of size `sigmaUp`, with sigmaDown² + sigmaUp² = sigmaTo².
 */
export function ancestralStep(sigmaFrom: number, sigmaTo: number): { sigmaUp: number; sigmaDown: number } {
  const f = Math.fround;
  const from2 = f(sigmaFrom * sigmaFrom);
  const to2 = f(sigmaTo * sigmaTo);
  const sigmaUp = f(Math.sqrt(f(f(to2 * f(from2 - to2)) / from2)));
  const sigmaDown = f(Math.sqrt(f(to2 - f(sigmaUp * sigmaUp))));
  return { sigmaUp, sigmaDown };
}

/** `original + noise * sigma`, the noising of the sigma schedulers' `add_noise`. @returns Float32Array */
export function addSigmaNoise(original: Float32Array, noise: Float32Array, sigma: number): Float32Array {
  const out = new Float32Array(original.length);
  for (let i = 0; i < out.length; i++) out[i] = (original[i] as number) + (noise[i] as number) * sigma;
  return out;
}

/**
 * `values[index]`, or an SdError 'internal' when a pipeline asks for a step outside the schedule.
 * @param what names the array in the message, e.g. "sigma"
 */
export function scheduleEntry(values: ArrayLike<number>, index: number, what: string): number {
  const value = index >= 0 && Number.isInteger(index) ? values[index] : undefined;
  if (value === undefined) {
    throw new SdError(
      'internal',
      `Scheduler ${what} index ${index} is outside the schedule (${values.length} entries). Call step() and scaleModelInput() with indices of Scheduler.timesteps.`,
    );
  }
  return value;
}
