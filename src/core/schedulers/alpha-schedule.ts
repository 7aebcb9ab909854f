/**
 * The training noise schedule as the alpha-based diffusers 0.27.2 schedulers build it in their
 * constructors (betas, optional zero-terminal-SNR rescale, float32 cumulative product), and the
 * DDPM forward process `add_noise` that DDIM, DDPM, LCM and PNDM share.
 */
import { alphasCumprod, rescaleZeroTerminalSnr, trainBetas, type BetaConfig } from './betas.ts';

const f32 = Math.fround;

/** The beta-schedule keys of `scheduler_config.json`, with diffusers' class defaults. */
export const BETA_DEFAULTS = {
  num_train_timesteps: 1000,
  beta_start: 0.0001,
  beta_end: 0.02,
  beta_schedule: 'linear',
  trained_betas: null as readonly number[] | null,
};

/**
 * alphas_cumprod (float32 values, Float64Array [num_train_timesteps]).
 * @param rescaleZeroSnr `rescale_betas_zero_snr` (Lin et al. 2023)
 * @param betas the training betas, when a class takes a schedule `trainBetas` does not (DDPM's sigmoid)
 */
export function trainingAlphasCumprod(
  config: BetaConfig,
  rescaleZeroSnr = false,
  betas: Float64Array = trainBetas(config),
): Float64Array {
  return alphasCumprod(rescaleZeroSnr ? rescaleZeroTerminalSnr(betas) : betas);
}

/**
 * `trainingAlphasCumprod` as the classes that go on to sigma = sqrt((1 - alpha_bar) / alpha_bar) hold it
 * (Euler, Euler a, DPM-Solver multistep): zero terminal SNR would make the first sigma infinite, so diffusers
 * sets the last alpha_bar to float16's smallest subnormal (2^-24) instead.
 */
export function finiteSigmaAlphasCumprod(config: BetaConfig, rescaleZeroSnr: boolean): Float64Array {
  const cumprod = trainingAlphasCumprod(config, rescaleZeroSnr);
  if (rescaleZeroSnr) cumprod[cumprod.length - 1] = 2 ** -24;
  return cumprod;
}

/**
 * alphas_cumprod[t] as a torch index: a negative t counts from the end. (Trailing spacing can yield
 * t = -1 for some step counts, because numpy's float arange gives one element too many.)
 */
export function alphaAt(alphasCumprod: Float64Array, timestep: number): number {
  return alphasCumprod[timestep < 0 ? alphasCumprod.length + timestep : timestep] as number;
}

/**
 * DDPM forward process q(x_t | x_0): sqrt(alpha_bar_t) * x0 + sqrt(1 - alpha_bar_t) * noise, with the
 * two factors rounded to float32 as diffusers computes them.
 * @param timestep training timestep t (an index into alphasCumprod)
 */
export function ddpmAddNoise(
  alphasCumprod: Float64Array,
  original: Float32Array,
  noise: Float32Array,
  timestep: number,
): Float32Array {
  const a = alphaAt(alphasCumprod, timestep);
  const signal = f32(Math.sqrt(a));
  const noiseScale = f32(Math.sqrt(f32(1 - a)));
  return original.map((x, i) => signal * x + noiseScale * (noise[i] as number));
}
