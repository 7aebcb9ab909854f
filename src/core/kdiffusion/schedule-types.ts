// Port of AUTOMATIC1111 1.10's schedule types (modules/sd_schedulers.py) and the k-diffusion 0.0.16 sigma
// functions they call (get_sigmas_karras, get_sigmas_exponential, get_sigmas_polyexponential), in float32.
import { betaQuantile } from './beta-quantile.ts';
import { A1111_SCHEDULE_TYPES, type A1111ScheduleType } from '../schedulers/a1111-schedule-types.ts';
import { SdError } from '../errors.ts';
import type { CompVisSchedule } from './compvis-schedule.ts';
import { f32, linspace32 } from './float32.ts';

/** The schedule types a1111 mode builds: all of A1111 1.10's. */
export type ScheduleType = A1111ScheduleType;

/** {@link ScheduleType} labels, in A1111's order. */
export const SCHEDULE_TYPES: readonly ScheduleType[] = A1111_SCHEDULE_TYPES.map((s) => s[0]);

/** A1111's defaults of its "Beta scheduler - alpha" and "- beta" options. */
export const BETA_SCHEDULE_SHAPE = { alpha: 0.6, beta: 0.6 } as const;

/** What a schedule depends on besides the step count. */
export interface ScheduleContext {
  model: CompVisSchedule;
  /** Align Your Steps has separate lists for SDXL and SD 1.x. */
  isSdxl: boolean;
}

/** Appends the final σ = 0. */
function withZero(sigmas: ArrayLike<number>): Float64Array {
  const out = new Float64Array(sigmas.length + 1);
  out.set(sigmas);
  return out;
}

/** k-diffusion's `get_sigmas(n)` (A1111's "Uniform"): t = linspace(999, 0, n) mapped to σ. */
function uniform(n: number, { model }: ScheduleContext): Float64Array {
  const t = linspace32(model.sigmas.length - 1, 0, n);
  return withZero(t.map((x) => model.tToSigma(x)));
}

/** Karras et al. (2022): σ^(1/ρ) linear from σ_max to σ_min, ρ = 7. */
export function karrasSigmas(n: number, sigmaMin: number, sigmaMax: number, rho = 7): Float64Array {
  const ramp = linspace32(0, 1, n);
  // Python floats (float64) until they meet the float32 ramp
  const minInv = sigmaMin ** (1 / rho);
  const maxInv = sigmaMax ** (1 / rho);
  const span = f32(minInv - maxInv);
  return withZero(ramp.map((r) => f32(f32(f32(maxInv) + f32(r * span)) ** rho)));
}

/** log σ linear from log σ_max to log σ_min. */
function exponential(n: number, { model }: ScheduleContext): Float64Array {
  const logs = linspace32(Math.log(model.sigmaMax), Math.log(model.sigmaMin), n);
  return withZero(logs.map((l) => f32(Math.exp(l))));
}

/** log σ a polynomial (ρ = 1: linear) in the ramp from 1 to 0. */
function polyexponential(n: number, { model }: ScheduleContext, rho = 1): Float64Array {
  const ramp = linspace32(1, 0, n).map((r) => f32(r ** rho));
  const logMin = Math.log(model.sigmaMin);
  const span = f32(Math.log(model.sigmaMax) - logMin);
  return withZero(ramp.map((r) => f32(Math.exp(f32(f32(r * span) + f32(logMin))))));
}

/** Timesteps linear from t(σ_max) to t(σ_min): n + 1 of them without the last ("SGM Uniform"), or n ("Normal"). */
function linearInT(n: number, { model }: ScheduleContext, isSgm: boolean): Float64Array {
  const start = model.sigmaToT(model.sigmaMax);
  const end = model.sigmaToT(model.sigmaMin);
  const t = isSgm ? linspace32(start, end, n + 1).subarray(0, n) : linspace32(start, end, n);
  return withZero(t.map((x) => model.tToSigma(x)));
}

/** Every (1000 / n)-th training σ from the top ("Simple"). */
function simple(n: number, { model }: ScheduleContext): Float64Array {
  const count = model.sigmas.length;
  const stride = count / n;
  const out: number[] = [];
  for (let x = 0; x < n; x++) out.push(model.sigmas[count - 1 - Math.trunc(x * stride)] as number);
  return withZero(out);
}

/** Training σ at 1, 1 + k, 1 + 2k, … (k = 1000 // n), from the top ("DDIM"; may give another count than n). */
function ddim(n: number, { model }: ScheduleContext): Float64Array {
  const count = model.sigmas.length;
  const stride = Math.max(Math.floor(count / n), 1);
  const out: number[] = [];
  for (let x = 1; x < count; x += stride) out.push(model.sigmas[x] as number);
  return withZero(out.reverse());
}

/** KL-optimal: tan of arctan σ linear from σ_max to σ_min; n + 1 values ending at σ_min (no 0 appended). */
function klOptimal(n: number, { model }: ScheduleContext): Float64Array {
  const alphaMin = f32(Math.atan(model.sigmaMin));
  const alphaMax = f32(Math.atan(model.sigmaMax));
  const out = new Float64Array(n + 1);
  for (let i = 0; i <= n; i++) {
    const r = f32(i / n);
    out[i] = f32(Math.tan(f32(f32(r * alphaMin) + f32(f32(1 - r) * alphaMax))));
  }
  return out;
}

/** NVIDIA's Align Your Steps lists (11 σ), log-linearly interpolated to n in float64, then float32. */
const AYS_SD15 = [14.615, 6.475, 3.861, 2.697, 1.886, 1.396, 0.963, 0.652, 0.399, 0.152, 0.029];
const AYS_SDXL = [14.615, 6.315, 3.771, 2.181, 1.342, 0.862, 0.555, 0.38, 0.234, 0.113, 0.029];

function alignYourSteps(n: number, { isSdxl }: ScheduleContext): Float64Array {
  const list = isSdxl ? AYS_SDXL : AYS_SD15;
  if (n === list.length) return withZero(list.map(f32));
  // np.interp of log σ (ascending) over linspace(0, 1, 11), sampled at linspace(0, 1, n)
  const ys = [...list].reverse().map(Math.log);
  const last = list.length - 1;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const x = n === 1 ? 0 : i / (n - 1);
    const pos = x * last;
    const k = Math.min(Math.floor(pos), last - 1);
    const x0 = k / last;
    const x1 = (k + 1) / last;
    const y0 = ys[k] as number;
    const y1 = ys[k + 1] as number;
    out.push(Math.exp(y0 + ((x - x0) * (y1 - y0)) / (x1 - x0)));
  }
  return withZero(out.reverse().map(f32));
}

/**
 * "Beta" (Lee et al. 2024, arXiv:2407.12173): σ_min + q · (σ_max − σ_min) for q the Beta(0.6, 0.6)
 * quantiles of 1 − linspace(0, 1, n), in float64 (scipy), then float32.
 */
function betaSchedule(n: number, { model }: ScheduleContext): Float64Array {
  const { alpha, beta } = BETA_SCHEDULE_SHAPE;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    // numpy's linspace(0, 1, n): i · (1 / (n − 1)), the last value exactly 1; [0] for n = 1
    const p = 1 - (n === 1 ? 0 : i === n - 1 ? 1 : i * (1 / (n - 1)));
    out.push(f32(model.sigmaMin + betaQuantile(p, alpha, beta) * (model.sigmaMax - model.sigmaMin)));
  }
  return withZero(out);
}

/**
 * The σ sequence of a schedule type for n steps, descending, ending in 0 (KL Optimal: in σ_min).
 * "Automatic" must be resolved to the sampler's default first.
 * @returns float32 values in a Float64Array (usually [n + 1])
 * @throws SdError 'unknown-sampler' for "Automatic" or a label not listed
 */
export function scheduleSigmas(type: ScheduleType, n: number, ctx: ScheduleContext): Float64Array {
  const { model } = ctx;
  switch (type) {
    case 'Uniform':
      return uniform(n, ctx);
    case 'Karras':
      return karrasSigmas(n, model.sigmaMin, model.sigmaMax);
    case 'Exponential':
      return exponential(n, ctx);
    case 'Polyexponential':
      return polyexponential(n, ctx);
    case 'SGM Uniform':
      return linearInT(n, ctx, true);
    case 'Normal':
      return linearInT(n, ctx, false);
    case 'Simple':
      return simple(n, ctx);
    case 'DDIM':
      return ddim(n, ctx);
    case 'KL Optimal':
      return klOptimal(n, ctx);
    case 'Align Your Steps':
      return alignYourSteps(n, ctx);
    case 'Beta':
      return betaSchedule(n, ctx);
    default:
      throw new SdError('unknown-sampler', `Schedule type "${type}" must be resolved to a schedule before use.`);
  }
}
