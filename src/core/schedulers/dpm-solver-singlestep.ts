// Port of diffusers 0.27.2 DPMSolverSinglestepScheduler: singlestep DPM-Solver(++) (A1111 "DPM++ SDE" / "DPM++ SDE Karras" in diffusers' mapping).
import { SdError } from '../errors.ts';
import { trainingAlphasCumprod } from './alpha-schedule.ts';
import { resolveConfig } from './config.ts';
import {
  alphaSigma,
  checkPrediction,
  clippedTimestepCount,
  combine,
  predictEpsilon,
  predictX0Thresholded,
  solverCoefficients,
  solverSchedule,
  SOLVER_DEFAULTS,
} from './dpm-common.ts';
import type { PredictionType, RawSchedulerConfig, StepInput, StepOutput } from './scheduler.ts';
import { SolverScheduler } from './solver-scheduler.ts';
import { checkSteps } from './timestep-spacing.ts';

const DEFAULTS = {
  ...SOLVER_DEFAULTS,
  algorithm_type: 'dpmsolver++',
  solver_type: 'midpoint',
  lower_order_final: false,
  use_karras_sigmas: false,
  final_sigmas_type: 'zero',
  lambda_min_clipped: -Infinity,
};

const NAME = 'DPMSolverSinglestepScheduler';

/**
 * Solver order of each step: runs of 1, 2(, 3) so that every higher-order step has its intermediate
 * points inside the run, ending on order 1 when `lowerOrderFinal`.
 */
export function singlestepOrders(steps: number, order: number, lowerOrderFinal: boolean): number[] {
  const cycle = order === 3 ? [1, 2, 3] : order === 2 ? [1, 2] : [1];
  const repeat = (times: number): number[] => Array.from({ length: Math.max(times, 0) }, () => cycle).flat();
  if (!lowerOrderFinal || order === 1) return repeat(Math.floor(steps / order));
  if (order === 3) {
    if (steps % 3 === 0) return [...repeat(steps / 3 - 1), 1, 2, 1];
    return [...repeat(Math.floor(steps / 3)), ...(steps % 3 === 1 ? [1] : [1, 2])];
  }
  return steps % 2 === 0 ? [...repeat(steps / 2 - 1), 1, 1] : [...repeat(Math.floor(steps / 2)), 1];
}

function parseConfig(raw: RawSchedulerConfig, overrides: Record<string, unknown>, steps: number): typeof DEFAULTS {
  const c = resolveConfig(DEFAULTS, raw, overrides as Partial<typeof DEFAULTS>);
  if (c.algorithm_type === 'deis') c.algorithm_type = 'dpmsolver++';
  if (['logrho', 'bh1', 'bh2'].includes(c.solver_type)) c.solver_type = 'midpoint';
  const fail = (what: string): never => {
    throw new SdError('bad-argument', `${NAME}: ${what}`);
  };
  if (c.algorithm_type !== 'dpmsolver++' && c.algorithm_type !== 'dpmsolver') {
    fail(`algorithm_type "${c.algorithm_type}" is not supported (diffusers 0.27.2 has no singlestep SDE). Expected dpmsolver++ or dpmsolver.`);
  }
  if (c.solver_type !== 'midpoint' && c.solver_type !== 'heun') {
    fail(`solver_type "${c.solver_type}" is not supported. Expected midpoint or heun.`);
  }
  if (c.final_sigmas_type !== 'zero' && c.final_sigmas_type !== 'sigma_min') {
    fail(`final_sigmas_type "${c.final_sigmas_type}" is not supported. Expected zero or sigma_min.`);
  }
  if (c.algorithm_type !== 'dpmsolver++' && c.final_sigmas_type === 'zero') {
    fail(`final_sigmas_type "zero" needs algorithm_type dpmsolver++. Use final_sigmas_type "sigma_min".`);
  }
  if (![1, 2, 3].includes(c.solver_order)) fail(`solver_order ${c.solver_order} is not supported. Use 1, 2 or 3.`);
  // diffusers switches lower_order_final on when the steps do not split into whole runs, or when
  // the last step lands on sigma = 0 (a higher-order step there would divide by an infinite h).
  if (steps % c.solver_order !== 0 || c.final_sigmas_type === 'zero') c.lower_order_final = true;
  return c;
}

/**
 * Singlestep DPM-Solver (Lu et al. 2022, arXiv:2206.00927) and DPM-Solver++ (arXiv:2211.01095): each
 * run of k steps integrates from the sample at its first point with the model outputs gathered inside
 * the run. Deterministic: diffusers 0.27.2 has no SDE variant of this class.
 */
export class DPMSolverSinglestepScheduler extends SolverScheduler {
  /** Solver order used at each step index. */
  readonly orders: readonly number[];
  private readonly config: typeof DEFAULTS;
  private readonly prediction: PredictionType;
  private readonly dataPrediction: boolean;
  /** The sample at the start of the current run (diffusers' `self.sample`). */
  private runStart: Float32Array | null = null;

  constructor(raw: RawSchedulerConfig, steps: number, overrides: Record<string, unknown> = {}) {
    const c = parseConfig(raw, overrides, steps);
    checkSteps(steps, NAME, c.num_train_timesteps);
    const prediction = checkPrediction(c.prediction_type, NAME, ['epsilon', 'sample', 'v_prediction']);
    const alphasCumprod = trainingAlphasCumprod(c);
    super(
      solverSchedule({
        alphasCumprod,
        steps,
        spacing: 'linspace',
        stepsOffset: 0,
        useKarrasSigmas: c.use_karras_sigmas,
        finalSigma: c.final_sigmas_type as 'zero' | 'sigma_min',
        lastTimestep: c.num_train_timesteps - clippedTimestepCount(alphasCumprod, c.lambda_min_clipped),
      }),
      c.solver_order,
    );
    this.config = c;
    this.prediction = prediction;
    this.dataPrediction = c.algorithm_type === 'dpmsolver++';
    this.orders = singlestepOrders(steps, c.solver_order, c.lower_order_final);
  }

  step({ modelOutput, stepIndex: i, sample, shape }: StepInput): StepOutput {
    // 1. Convert the model output to x0 (DPM-Solver++) or noise (DPM-Solver) and remember it.
    const coef = alphaSigma(this.sigmas[i] as number);
    const converted = this.dataPrediction
      ? predictX0Thresholded(this.config, this.prediction, modelOutput, sample, coef, shape)
      : predictEpsilon(this.prediction, modelOutput, sample, coef);
    this.remember(converted);

    // 2. This step's order, lowered while the history is too short (img2img starting mid-run).
    let order = this.orders[i] ?? 1;
    while (this.recent(order - 1) === null) order--;

    // 3. A run starts at an order-1 step: later steps of the run integrate from its sample.
    if (order === 1) this.runStart = sample;
    const x = this.runStart ?? sample;

    // 4. Integrate from the run's start to the next sigma.
    const prevSample = order === 1 ? this.firstOrder(i, x, converted) : order === 2 ? this.secondOrder(i, x) : this.thirdOrder(i, x);
    return this.dataPrediction ? { prevSample, denoised: converted } : { prevSample };
  }

  private firstOrder(i: number, x: Float32Array, d0: Float32Array): Float32Array {
    const { a, b } = solverCoefficients(alphaSigma(this.sigmas[i + 1] as number), alphaSigma(this.sigmas[i] as number), this.dataPrediction);
    return combine([[a, x], [b, d0]]);
  }

  /** From the run start at sigmas[i - 1] to sigmas[i + 1]: D0 = m1 (at i - 1), D1 = (m0 - m1) / r0. */
  private secondOrder(i: number, x: Float32Array): Float32Array {
    const m0 = this.recent(0) as Float32Array;
    const m1 = this.recent(1) as Float32Array;
    const t = alphaSigma(this.sigmas[i + 1] as number);
    const s0 = alphaSigma(this.sigmas[i] as number);
    const s1 = alphaSigma(this.sigmas[i - 1] as number);
    const r0 = (s0.lambda - s1.lambda) / (t.lambda - s1.lambda);
    const k = solverCoefficients(t, s1, this.dataPrediction);
    const d = this.config.solver_type === 'heun' ? k.c1 : 0.5 * k.b;
    return combine([[k.a, x], [d / r0, m0], [k.b - d / r0, m1]]);
  }

  /**
   * From the run start at sigmas[i - 2] to sigmas[i + 1]: D0 = m2, D1_0 = (m1 - m2) / r1,
   * D1_1 = (m0 - m2) / r0; midpoint adds c1 * D1_1, Heun c1 * D1 + c2 * D2 with
   * D1 = (r0 D1_0 - r1 D1_1) / (r0 - r1) and D2 = 2 (D1_1 - D1_0) / (r0 - r1).
   */
  private thirdOrder(i: number, x: Float32Array): Float32Array {
    const [m0, m1, m2] = [this.recent(0), this.recent(1), this.recent(2)] as [Float32Array, Float32Array, Float32Array];
    const t = alphaSigma(this.sigmas[i + 1] as number);
    const s0 = alphaSigma(this.sigmas[i] as number);
    const s1 = alphaSigma(this.sigmas[i - 1] as number);
    const s2 = alphaSigma(this.sigmas[i - 2] as number);
    const h = t.lambda - s2.lambda;
    const r0 = (s0.lambda - s2.lambda) / h;
    const r1 = (s1.lambda - s2.lambda) / h;
    const { a, b, c1, c2 } = solverCoefficients(t, s2, this.dataPrediction);
    const heun = this.config.solver_type === 'heun';
    const onD10 = heun ? (c1 * r0 - 2 * c2) / (r0 - r1) : 0;
    const onD11 = heun ? (-c1 * r1 + 2 * c2) / (r0 - r1) : c1;
    return combine([
      [a, x],
      [onD11 / r0, m0],
      [onD10 / r1, m1],
      [b - onD10 / r1 - onD11 / r0, m2],
    ]);
  }
}
