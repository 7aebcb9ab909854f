import { SdError } from '../errors.ts';

/** Beta schedules diffusers knows, by their `beta_schedule` names. */
export type BetaSchedule = 'linear' | 'scaled_linear' | 'squaredcos_cap_v2';

export interface BetaConfig {
  num_train_timesteps: number;
  beta_start: number;
  beta_end: number;
  beta_schedule: string;
  trained_betas?: readonly number[] | null;
}

const f32 = Math.fround;

/**
 * torch.linspace(start, end, steps, dtype=float32) bit for bit as torch's vectorised CPU kernel
 * computes it: a float32 step; blocks of 8 values, each block starting from a base taken from
 * `start` (first half) or `end` (second half); every value one fused multiply-add from its base.
 */
export function linspaceF32(start: number, end: number, steps: number): Float64Array {
  const out = new Float64Array(steps);
  const s = f32(start);
  const e = f32(end);
  if (steps === 1) {
    out[0] = s;
    return out;
  }
  const step = f32((e - s) / (steps - 1));
  const half = Math.floor(steps / 2);
  const block = 8;
  const full = steps - (steps % block);
  for (let i = 0; i < full; i += block) {
    // products of a float32 and a small integer are exact in float64, so one f32() is one FMA rounding
    const base = i < half ? f32(step * i + s) : f32(e - step * (steps - 1 - i));
    for (let j = 0; j < block; j++) out[i + j] = f32(base + j * step);
  }
  // the tail after the last full block takes torch's scalar path
  for (let i = full; i < steps; i++) out[i] = i < half ? f32(s + f32(step * i)) : f32(e - f32(step * (steps - 1 - i)));
  return out;
}

/** np.linspace in float64 (both ends included). */
export function linspace(start: number, end: number, steps: number): Float64Array {
  const out = new Float64Array(steps);
  if (steps === 1) {
    out[0] = start;
    return out;
  }
  const step = (end - start) / (steps - 1);
  for (let i = 0; i < steps; i++) out[i] = start + step * i;
  out[steps - 1] = end;
  return out;
}

/** `betas_for_alpha_bar` with the cosine transform (Nichol & Dhariwal 2021), as diffusers computes it. */
function cosineBetas(n: number, maxBeta = 0.999): Float64Array {
  const alphaBar = (t: number): number => Math.cos(((t + 0.008) / 1.008) * Math.PI * 0.5) ** 2;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    out[i] = f32(Math.min(1 - alphaBar((i + 1) / n) / alphaBar(i / n), maxBeta));
  }
  return out;
}

/**
 * Training betas as diffusers holds them: a float32 tensor (values here are float32-rounded doubles).
 * @returns Float64Array [num_train_timesteps]
 */
export function trainBetas(config: BetaConfig): Float64Array {
  const n = config.num_train_timesteps;
  if (config.trained_betas && config.trained_betas.length > 0) {
    return Float64Array.from(config.trained_betas, (b) => f32(b));
  }
  switch (config.beta_schedule) {
    case 'linear':
      return linspaceF32(config.beta_start, config.beta_end, n);
    case 'scaled_linear': {
      const roots = linspaceF32(Math.sqrt(config.beta_start), Math.sqrt(config.beta_end), n);
      return roots.map((r) => f32(r * r));
    }
    case 'squaredcos_cap_v2':
      return cosineBetas(n);
    default:
      throw new SdError(
        'unsupported-model',
        `Unknown beta_schedule "${config.beta_schedule}" in scheduler_config.json. Expected one of: linear, scaled_linear, squaredcos_cap_v2.`,
      );
  }
}

/**
 * torch.cumprod(1 - betas) of a float32 tensor on the CPU: torch accumulates the running product in double
 * (its CPU accumulate type for float) and rounds each output to float32; a float32 accumulator drifts by
 * several ulps over 1000 steps (visible in sigma_max).
 * @returns Float64Array [num_train_timesteps] of float32 values
 */
export function alphasCumprod(betas: Float64Array): Float64Array {
  const out = new Float64Array(betas.length);
  let acc = 1;
  for (let i = 0; i < betas.length; i++) {
    acc *= f32(1 - (betas[i] as number));
    out[i] = f32(acc);
  }
  return out;
}

/**
 * `rescale_zero_terminal_snr` (Lin et al. 2023, Algorithm 1): shifts and scales sqrt(alphas_cumprod)
 * so the last timestep has zero SNR. Takes and returns betas.
 */
export function rescaleZeroTerminalSnr(betas: Float64Array): Float64Array {
  const ac = alphasCumprod(betas);
  const sqrtAc = ac.map(Math.sqrt);
  const first = sqrtAc[0] as number;
  const last = sqrtAc[sqrtAc.length - 1] as number;
  const scaled = sqrtAc.map((v) => ((v - last) * first) / (first - last));
  const alphaBar = scaled.map((v) => v * v);
  const out = new Float64Array(betas.length);
  let prev = 1;
  for (let i = 0; i < alphaBar.length; i++) {
    const a = i === 0 ? (alphaBar[0] as number) : (alphaBar[i] as number) / prev;
    prev = alphaBar[i] as number;
    out[i] = f32(1 - a);
  }
  return out;
}

/**
 * `betas_for_alpha_bar` with the exponential transform alpha_bar(t) = exp(-12 t), which diffusers offers
 * as `beta_schedule: "exp"` (HeunDiscreteScheduler only, used by Shap-E). Float32 values like `trainBetas`.
 */
export function expBetas(n: number, maxBeta = 0.999): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    out[i] = f32(Math.min(1 - Math.exp(((i + 1) / n) * -12) / Math.exp((i / n) * -12), maxBeta));
  }
  return out;
}

/**
 * DDPMScheduler's `beta_schedule: "sigmoid"` (GeoDiff): sigmoid of a float32 ramp over [-6, 6], scaled into
 * [beta_start, beta_end], in float32 as torch computes it.
 */
export function sigmoidBetas(config: BetaConfig): Float64Array {
  const ramp = linspaceF32(-6, 6, config.num_train_timesteps);
  const scale = f32(config.beta_end - config.beta_start);
  const start = f32(config.beta_start);
  return ramp.map((x) => f32(f32(f32(1 / (1 + Math.exp(-x))) * scale) + start));
}
