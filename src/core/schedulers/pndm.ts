// Port of diffusers 0.27.2 PNDMScheduler: pseudo linear multistep (PLMS, skip_prk_steps) and F-PNDM with Runge-Kutta warm-up (A1111 "PLMS"; SD 1.x default).
import { SdError } from '../errors.ts';
import { alphaAt, BETA_DEFAULTS, trainingAlphasCumprod } from './alpha-schedule.ts';
import { AlphaScheduler } from './alpha-scheduler.ts';
import { resolveConfig } from './config.ts';
import { combine, type Term } from './linear-combination.ts';
import { checkPrediction } from './prediction.ts';
import type { PredictionType, RawSchedulerConfig, StepInput, StepOutput } from './scheduler.ts';
import { checkSpacing, checkSteps, spacedTimesteps } from './timestep-spacing.ts';

const DEFAULTS = {
  ...BETA_DEFAULTS,
  skip_prk_steps: false,
  set_alpha_to_one: false,
  prediction_type: 'epsilon',
  timestep_spacing: 'leading',
  steps_offset: 0,
};

const NAME = 'PNDMScheduler';
const f32 = Math.fround;

/**
 * PNDM (Liu et al. 2022, arXiv:2202.09778, eq. 9 and Algorithm 2). With `skip_prk_steps` (PLMS, as
 * Stable Diffusion uses it) the second timestep is repeated: that call averages two noise estimates
 * and redoes the first step from its start. Otherwise 12 Runge-Kutta calls warm up the history.
 * Which formula applies depends on the number of calls made (`counter`), not on the step index.
 */
export class PNDMScheduler extends AlphaScheduler {
  private readonly prediction: PredictionType;
  private readonly finalAlphaCumprod: number;
  private readonly stride: number;
  private readonly prkTimesteps: Float64Array;
  private counter = 0;
  /** Noise estimates of the main steps, oldest first (diffusers' `ets`). */
  private ets: Float32Array[] = [];
  /** Runge-Kutta accumulator of weighted estimates (diffusers' `cur_model_output`). */
  private rkSum: Float32Array | null = null;
  /** The sample a repeated or Runge-Kutta step starts from (diffusers' `cur_sample`). */
  private curSample: Float32Array | null = null;

  constructor(raw: RawSchedulerConfig, steps: number, overrides: Record<string, unknown> = {}) {
    const c = resolveConfig(DEFAULTS, raw, overrides as Partial<typeof DEFAULTS>);
    checkSteps(steps, NAME, c.num_train_timesteps);
    const prediction = checkPrediction(c.prediction_type, NAME, ['epsilon', 'v_prediction']);
    const alphasCumprod = trainingAlphasCumprod(c);
    const stride = Math.floor(c.num_train_timesteps / steps);
    const { prk, plms } = pndmTimesteps(c, steps, stride);
    super(Float64Array.from([...prk, ...plms]), alphasCumprod);
    this.prediction = prediction;
    this.finalAlphaCumprod = c.set_alpha_to_one ? 1 : (alphasCumprod[0] as number);
    this.stride = stride;
    this.prkTimesteps = Float64Array.from(prk);
  }

  step({ modelOutput, stepIndex, sample }: StepInput): StepOutput {
    const t = this.timestepAt(stepIndex);
    const prevSample =
      this.counter < this.prkTimesteps.length
        ? this.stepPrk(modelOutput, t, sample)
        : this.stepPlms(modelOutput, t, sample);
    this.counter++;
    return { prevSample };
  }

  /** Runge-Kutta warm-up: four calls per step with weights 1/6, 1/3, 1/3, 1/6. */
  private stepPrk(modelOutput: Float32Array, t: number, sample: Float32Array): Float32Array {
    // 1. Odd calls land on the half step, even calls on the full one.
    const prevT = t - (this.counter % 2 === 1 ? 0 : Math.floor(this.stride / 2));
    const start = this.prkTimesteps[Math.floor(this.counter / 4) * 4] as number;
    // 2. Accumulate the estimates (float32, as torch does); the fourth call completes the average.
    const weighted = (w: number): Float32Array => modelOutput.map((m) => f32(f32(w) * m));
    let estimate = modelOutput;
    switch (this.counter % 4) {
      case 0:
        this.rkSum = weighted(1 / 6);
        this.ets.push(modelOutput);
        this.curSample = sample;
        break;
      case 1:
      case 2: {
        const sum = this.rkSum as Float32Array;
        this.rkSum = weighted(1 / 3).map((v, k) => v + (sum[k] as number));
        break;
      }
      case 3: {
        const sum = this.rkSum as Float32Array;
        estimate = weighted(1 / 6).map((v, k) => (sum[k] as number) + v);
        this.rkSum = null;
        break;
      }
    }
    // 3. Every call integrates from the start of its Runge-Kutta step.
    return this.prevSample(this.curSample ?? sample, start, prevT, estimate);
  }

  /** Linear multistep with up to 4 past estimates (Adams-Bashforth weights). */
  private stepPlms(modelOutput: Float32Array, t: number, sample: Float32Array): Float32Array {
    // 1. The second call repeats the first step: from t + stride to t again.
    let from = t;
    let to = t - this.stride;
    if (this.counter !== 1) {
      this.ets = [...this.ets.slice(-3), modelOutput];
    } else {
      to = t;
      from = t + this.stride;
    }
    // 2. Combine the estimates.
    const e = this.ets;
    const last = (k: number): Float32Array => e[e.length - k] as Float32Array;
    let x = sample;
    let terms: Term[];
    if (e.length === 1 && this.counter === 0) {
      terms = [[1, modelOutput]];
      this.curSample = sample;
    } else if (e.length === 1 && this.counter === 1) {
      terms = [
        [0.5, modelOutput],
        [0.5, last(1)],
      ];
      x = this.curSample as Float32Array;
      this.curSample = null;
    } else if (e.length === 2) {
      terms = [
        [3 / 2, last(1)],
        [-1 / 2, last(2)],
      ];
    } else if (e.length === 3) {
      terms = [
        [23 / 12, last(1)],
        [-16 / 12, last(2)],
        [5 / 12, last(3)],
      ];
    } else {
      terms = [
        [55 / 24, last(1)],
        [-59 / 24, last(2)],
        [37 / 24, last(3)],
        [-9 / 24, last(4)],
      ];
    }
    // 3. Formula (9) from `from` to `to`.
    return this.prevSample(x, from, to, combine(terms));
  }

  /** PNDM's transfer x_t -> x_{t'} (eq. 9) for a noise estimate (v-prediction converted first). */
  private prevSample(sample: Float32Array, t: number, prevT: number, estimate: Float32Array): Float32Array {
    const alphaT = alphaAt(this.alphasCumprod, t);
    const alphaPrev = prevT >= 0 ? alphaAt(this.alphasCumprod, prevT) : this.finalAlphaCumprod;
    const betaT = 1 - alphaT;
    const betaPrev = 1 - alphaPrev;
    const sampleCoeff = Math.sqrt(alphaPrev / alphaT);
    const denom = alphaT * Math.sqrt(betaPrev) + Math.sqrt(alphaT * betaT * alphaPrev);
    const k = (alphaPrev - alphaT) / denom;
    if (this.prediction === 'v_prediction') {
      // eps = sqrt(alpha_t) v + sqrt(beta_t) x_t
      return combine([
        [sampleCoeff - k * Math.sqrt(betaT), sample],
        [-k * Math.sqrt(alphaT), estimate],
      ]);
    }
    return combine([
      [sampleCoeff, sample],
      [-k, estimate],
    ]);
  }
}

/**
 * PNDM's call timesteps: the Runge-Kutta warm-up calls (none with `skip_prk_steps`), then the linear multistep
 * calls, both descending.
 * @throws SdError 'bad-argument' for fewer than 4 steps with the Runge-Kutta warm-up
 */
function pndmTimesteps(c: typeof DEFAULTS, steps: number, stride: number): { prk: number[]; plms: number[] } {
  // Ascending, as diffusers' `_timesteps`.
  const base = spacedTimesteps(
    checkSpacing(c.timestep_spacing, NAME),
    c.num_train_timesteps,
    steps,
    c.steps_offset,
  ).reverse();
  const n = base.length;
  if (c.skip_prk_steps) {
    // base[:-1] + base[-2:-1] + base[-1:], reversed: the second-largest timestep appears twice.
    const plms = [...base.subarray(0, n - 1), ...(n >= 2 ? [base[n - 2] as number] : []), base[n - 1] as number];
    return { prk: [], plms: plms.reverse() };
  }
  if (n < 4) {
    throw new SdError(
      'bad-argument',
      `${NAME}: ${steps} steps is too few for the Runge-Kutta warm-up. Use at least 4 steps or skip_prk_steps.`,
    );
  }
  // The 4 largest timesteps t, each with t + half a stride, arranged as diffusers' 12 PRK calls.
  const half = Math.floor(stride / 2);
  const pairs = [...base.subarray(n - 4)].flatMap((t) => [t, t + half]);
  const prk = pairs
    .slice(0, -1)
    .flatMap((t) => [t, t])
    .slice(1, -1)
    .reverse();
  return { prk, plms: [...base.subarray(0, n - 3)].reverse() };
}
