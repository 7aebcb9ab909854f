// Port of diffusers 0.27.2 DPMSolverSinglestepScheduler: singlestep DPM-Solver(++) (A1111 "DPM++ SDE" / "DPM++ SDE Karras" in diffusers' mapping).
import { SdError } from '../errors.ts';
import { trainingAlphasCumprod } from './alpha-schedule.ts';
import { resolveConfig } from './config.ts';
import { checkDpmSolverTypes, dpmSolverSchedule, solverCoefficients, SOLVER_DEFAULTS } from './dpm-common.ts';
import { combine } from './linear-combination.ts';
import { checkPrediction } from './prediction.ts';
import type { RawSchedulerConfig, StepInput, StepOutput } from './scheduler.ts';
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

const ALGORITHMS: readonly string[] = ['dpmsolver++', 'dpmsolver'];

function parseConfig(raw: RawSchedulerConfig, overrides: Record<string, unknown>, steps: number): typeof DEFAULTS {
  const c = resolveConfig(DEFAULTS, raw, overrides as Partial<typeof DEFAULTS>);
  checkDpmSolverTypes(
    c,
    NAME,
    ALGORITHMS,
    ' (diffusers 0.27.2 has no singlestep SDE). Expected dpmsolver++ or dpmsolver.',
  );
  if (![1, 2, 3].includes(c.solver_order)) {
    throw new SdError('bad-argument', `${NAME}: solver_order ${c.solver_order} is not supported. Use 1, 2 or 3.`);
  }
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
  private readonly dataPrediction: boolean;
  /** The sample at the start of the current run (diffusers' `self.sample`). */
  private runStart: Float32Array | null = null;

  constructor(raw: RawSchedulerConfig, steps: number, overrides: Record<string, unknown> = {}) {
    const c = parseConfig(raw, overrides, steps);
    checkSteps(steps, NAME, c.num_train_timesteps);
    const prediction = checkPrediction(c.prediction_type, NAME, ['epsilon', 'sample', 'v_prediction']);
    const alphasCumprod = trainingAlphasCumprod(c);
    // diffusers' singlestep class always spaces linspace, with no steps_offset.
    super(dpmSolverSchedule(c, alphasCumprod, steps, 'linspace', 0), c.solver_order, prediction, c);
    this.config = c;
    this.dataPrediction = c.algorithm_type === 'dpmsolver++';
    this.orders = singlestepOrders(steps, c.solver_order, c.lower_order_final);
  }

  step({ modelOutput, stepIndex: i, sample, shape }: StepInput): StepOutput {
    // 1. Convert the model output to x0 (DPM-Solver++) or noise (DPM-Solver) and remember it.
    const converted = this.convertModelOutput(modelOutput, sample, shape, i, this.dataPrediction);
    this.remember(converted);

    // 2. This step's order, lowered while the history is too short (img2img starting mid-run).
    let order = this.orders[i] ?? 1;
    while (this.recent(order - 1) === null) order--;

    // 3. A run starts at an order-1 step: later steps of the run integrate from its sample.
    if (order === 1) this.runStart = sample;
    const x = this.runStart ?? sample;

    // 4. Integrate from the run's start to the next sigma.
    const prevSample =
      order === 1
        ? this.firstOrderUpdate(i, x, converted, this.dataPrediction)
        : order === 2
          ? this.secondOrder(i, x)
          : this.thirdOrder(i, x);
    return this.dataPrediction ? { prevSample, denoised: converted } : { prevSample };
  }

  /** From the run start at sigmas[i - 1] to sigmas[i + 1]: D0 = m1 (at i - 1), D1 = (m0 - m1) / r0. */
  private secondOrder(i: number, x: Float32Array): Float32Array {
    const [m0, m1] = this.recentOutputs(0, 1);
    const [t, s0, s1] = this.alphaSigmasAt(i + 1, i, i - 1);
    const r0 = (s0.lambda - s1.lambda) / (t.lambda - s1.lambda);
    const k = solverCoefficients(t, s1, this.dataPrediction);
    const d = this.config.solver_type === 'heun' ? k.c1 : 0.5 * k.b;
    return combine([
      [k.a, x],
      [d / r0, m0],
      [k.b - d / r0, m1],
    ]);
  }

  /**
   * From the run start at sigmas[i - 2] to sigmas[i + 1]: D0 = m2, D1_0 = (m1 - m2) / r1,
   * D1_1 = (m0 - m2) / r0; midpoint adds c1 * D1_1, Heun c1 * D1 + c2 * D2 with
   * D1 = (r0 D1_0 - r1 D1_1) / (r0 - r1) and D2 = 2 (D1_1 - D1_0) / (r0 - r1).
   */
  private thirdOrder(i: number, x: Float32Array): Float32Array {
    const [m0, m1, m2] = this.recentOutputs(0, 1, 2);
    const [t, s0, s1, s2] = this.alphaSigmasAt(i + 1, i, i - 1, i - 2);
    // The run started at s2: the step and the ratios are measured from there.
    const h = t.lambda - s2.lambda;
    const [r0, r1] = [s0, s1].map((s) => (s.lambda - s2.lambda) / h) as [number, number];
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
