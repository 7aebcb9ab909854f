// Port of diffusers 0.27.2 DPMSolverMultistepScheduler: DPM-Solver(++) multistep, ODE and SDE variants (A1111 "DPM++ 2M", "DPM++ 2M SDE").
import { SdError } from '../errors.ts';
import { finiteSigmaAlphasCumprod } from './alpha-schedule.ts';
import { resolveConfig } from './config.ts';
import { checkDpmSolverTypes, dpmSolverSchedule, solverCoefficients, SOLVER_DEFAULTS } from './dpm-common.ts';
import { combine, type Term } from './linear-combination.ts';
import { checkPrediction, clipOrThreshold, epsilonFromX0, x0FromEpsilon } from './prediction.ts';
import type { RawSchedulerConfig, StepInput, StepOutput } from './scheduler.ts';
import { SolverScheduler } from './solver-scheduler.ts';
import { checkSpacing, checkSteps } from './timestep-spacing.ts';

const DEFAULTS = {
  ...SOLVER_DEFAULTS,
  algorithm_type: 'dpmsolver++',
  solver_type: 'midpoint',
  lower_order_final: true,
  euler_at_final: false,
  use_karras_sigmas: false,
  use_lu_lambdas: false,
  final_sigmas_type: 'zero',
  lambda_min_clipped: -Infinity,
  timestep_spacing: 'linspace',
  steps_offset: 0,
  rescale_betas_zero_snr: false,
};

type Algorithm = 'dpmsolver' | 'dpmsolver++' | 'sde-dpmsolver' | 'sde-dpmsolver++';
const ALGORITHMS: readonly string[] = ['dpmsolver++', 'sde-dpmsolver++', 'dpmsolver', 'sde-dpmsolver'];
const NAME = 'DPMSolverMultistepScheduler';

function parseConfig(raw: RawSchedulerConfig, overrides: Record<string, unknown>): typeof DEFAULTS {
  const c = resolveConfig(DEFAULTS, raw, overrides as Partial<typeof DEFAULTS>);
  checkDpmSolverTypes(c, NAME, ALGORITHMS, `. Expected one of: ${ALGORITHMS.join(', ')}.`);
  if (![1, 2, 3].includes(c.solver_order) || (c.solver_order === 3 && c.algorithm_type.startsWith('sde'))) {
    throw new SdError(
      'bad-argument',
      `${NAME}: solver_order ${c.solver_order} is not supported with ${c.algorithm_type}. Use 1 or 2 (3 only for the ODE variants).`,
    );
  }
  return c;
}

/**
 * DPM-Solver (Lu et al. 2022, arXiv:2206.00927) and DPM-Solver++ (arXiv:2211.01095) multistep solvers
 * of order 1-3 on the VP schedule, and their SDE variants that add fresh noise every step.
 * Keeps the converted outputs of the previous calls; warms up with lower orders.
 */
export class DPMSolverMultistepScheduler extends SolverScheduler {
  private readonly config: typeof DEFAULTS;
  private readonly algorithm: Algorithm;
  private readonly dataPrediction: boolean;

  constructor(raw: RawSchedulerConfig, steps: number, overrides: Record<string, unknown> = {}) {
    const c = parseConfig(raw, overrides);
    checkSteps(steps, NAME, c.num_train_timesteps);
    const prediction = checkPrediction(c.prediction_type, NAME, ['epsilon', 'sample', 'v_prediction']);
    const alphasCumprod = finiteSigmaAlphasCumprod(c, c.rescale_betas_zero_snr);
    const schedule = dpmSolverSchedule(c, alphasCumprod, steps, checkSpacing(c.timestep_spacing, NAME), c.steps_offset);
    super(schedule, c.solver_order, prediction, c);
    this.config = c;
    this.algorithm = c.algorithm_type as Algorithm;
    this.dataPrediction = this.algorithm.endsWith('++');
  }

  step({ modelOutput, stepIndex: i, sample, shape, rng }: StepInput): StepOutput {
    const c = this.config;
    const n = this.timesteps.length;
    // 1. Fall back to lower orders at the end: always for the last step when it lands on sigma = 0.
    const lowerOrderFinal =
      i === n - 1 && (c.euler_at_final || (c.lower_order_final && n < 15) || c.final_sigmas_type === 'zero');
    const lowerOrderSecond = i === n - 2 && c.lower_order_final && n < 15;

    // 2. Convert the model output to x0 (DPM-Solver++) or noise (DPM-Solver) and remember it.
    const converted = this.convert(modelOutput, sample, shape, i);
    this.remember(converted);

    // 3. The SDE variants draw fresh noise every step, before the update.
    const noise = this.algorithm.startsWith('sde') ? rng.randn(shape) : null;

    // 4. Update with the highest order the history and the position allow.
    const order = this.multistepOrder(c.solver_order, lowerOrderFinal, lowerOrderSecond);
    const prevSample =
      order === 1
        ? this.firstOrder(i, sample, converted, noise)
        : order === 2
          ? this.secondOrder(i, sample, noise)
          : this.thirdOrder(i, sample);
    return this.dataPrediction ? { prevSample, denoised: converted } : { prevSample };
  }

  /** diffusers' `convert_model_output`; DPM-Solver (noise) thresholds in x0 space, then goes back to noise. */
  private convert(modelOutput: Float32Array, sample: Float32Array, shape: readonly number[], i: number): Float32Array {
    const converted = this.convertModelOutput(modelOutput, sample, shape, i, this.dataPrediction);
    if (this.dataPrediction || !this.config.thresholding) return converted;
    const coef = this.alphaSigmaAt(i);
    const x0 = clipOrThreshold(x0FromEpsilon(sample, converted, coef), shape, this.config);
    return epsilonFromX0(sample, x0, coef);
  }

  /**
   * SDE variants: x_t = a * x + b * D0 + d * D1 + noiseScale * noise, where the `b` and `d` of the ODE
   * step are replaced by their stochastic counterparts (midpoint d = b / 2; Heun d below).
   */
  private sdeCoefficients(i: number, heun: boolean): { a: number; b: number; d: number; noiseScale: number } {
    const [t, s] = this.alphaSigmasAt(i + 1, i);
    const h = t.lambda - s.lambda;
    if (this.algorithm === 'sde-dpmsolver++') {
      const b = t.alpha * -Math.expm1(-2 * h);
      return {
        a: (t.sigma / s.sigma) * Math.exp(-h),
        b,
        d: heun ? t.alpha * (-Math.expm1(-2 * h) / (-2 * h) + 1) : 0.5 * b,
        noiseScale: t.sigma * Math.sqrt(-Math.expm1(-2 * h)),
      };
    }
    return {
      a: t.alpha / s.alpha,
      b: -2 * t.sigma * Math.expm1(h),
      d: heun ? -2 * t.sigma * (Math.expm1(h) / h - 1) : -t.sigma * Math.expm1(h),
      noiseScale: t.sigma * Math.sqrt(Math.expm1(2 * h)),
    };
  }

  private firstOrder(i: number, x: Float32Array, d0: Float32Array, noise: Float32Array | null): Float32Array {
    if (noise) {
      const { a, b, noiseScale } = this.sdeCoefficients(i, false);
      // The first-order SDE step is the second-order one without the D1 term.
      return combine([
        [a, x],
        [b, d0],
        [noiseScale, noise],
      ]);
    }
    return this.firstOrderUpdate(i, x, d0, this.dataPrediction);
  }

  /** Two-step update from m0 (this call) and m1 (previous call): D0 = m0, D1 = (m0 - m1) / r0. */
  private secondOrder(i: number, x: Float32Array, noise: Float32Array | null): Float32Array {
    const [m0, m1] = this.recentOutputs(0, 1);
    const [t, s0, s1] = this.alphaSigmasAt(i + 1, i, i - 1);
    const r0 = (s0.lambda - s1.lambda) / (t.lambda - s0.lambda);
    const heun = this.config.solver_type === 'heun';
    let a: number;
    let b: number;
    let d: number;
    let noiseScale = 0;
    if (noise) {
      ({ a, b, d, noiseScale } = this.sdeCoefficients(i, heun));
    } else {
      const k = solverCoefficients(t, s0, this.dataPrediction);
      ({ a, b } = k);
      d = heun ? k.c1 : 0.5 * k.b;
    }
    const terms: Term[] = [
      [a, x],
      [b + d / r0, m0],
      [-d / r0, m1],
    ];
    if (noise) terms.push([noiseScale, noise]);
    return combine(terms);
  }

  /**
   * Three-step update (ODE variants): D1_0 = (m0 - m1) / r0, D1_1 = (m1 - m2) / r1,
   * D1 = D1_0 + r0 / (r0 + r1) * (D1_0 - D1_1), D2 = (D1_0 - D1_1) / (r0 + r1).
   */
  private thirdOrder(i: number, x: Float32Array): Float32Array {
    const [m0, m1, m2] = this.recentOutputs(0, 1, 2);
    const [t, s0, s1, s2] = this.alphaSigmasAt(i + 1, i, i - 1, i - 2);
    const h = t.lambda - s0.lambda;
    const r0 = (s0.lambda - s1.lambda) / h;
    const r1 = (s1.lambda - s2.lambda) / h;
    const { a, b, c1, c2 } = solverCoefficients(t, s0, this.dataPrediction);
    const w = r0 / (r0 + r1);
    const onD10 = c1 * (1 + w) + c2 / (r0 + r1);
    const onD11 = -c1 * w - c2 / (r0 + r1);
    return combine([
      [a, x],
      [b + onD10 / r0, m0],
      [-onD10 / r0 + onD11 / r1, m1],
      [-onD11 / r1, m2],
    ]);
  }
}
