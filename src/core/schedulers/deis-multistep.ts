// Port of diffusers 0.27.2 DEISMultistepScheduler: log-rho multistep DEIS of order 1-3 (A1111 "DEIS").
import { SdError } from '../errors.ts';
import { resolveConfig } from './config.ts';
import { legacySolverSchedule, SOLVER_DEFAULTS } from './dpm-common.ts';
import { combine } from './linear-combination.ts';
import { checkPrediction, epsilonFromX0 } from './prediction.ts';
import type { RawSchedulerConfig, StepInput, StepOutput } from './scheduler.ts';
import { SolverScheduler } from './solver-scheduler.ts';
import { checkSteps } from './timestep-spacing.ts';

const DEFAULTS = {
  ...SOLVER_DEFAULTS,
  algorithm_type: 'deis',
  solver_type: 'logrho',
  lower_order_final: true,
  use_karras_sigmas: false,
  timestep_spacing: 'linspace',
  steps_offset: 0,
};

const NAME = 'DEISMultistepScheduler';

/** Antiderivative of the Lagrange basis polynomial through log(b), log(c) in log(rho), at rho = t. */
function basis2(t: number, b: number, c: number): number {
  return (t * (-Math.log(c) + Math.log(t) - 1)) / (Math.log(b) - Math.log(c));
}

/** Antiderivative of the quadratic Lagrange basis through log(b), log(c), log(d), at rho = t. */
function basis3(t: number, b: number, c: number, d: number): number {
  const [lt, lb, lc, ld] = [Math.log(t), Math.log(b), Math.log(c), Math.log(d)];
  const numerator = t * (lc * (ld - lt + 1) - ld * lt + ld + lt * lt - 2 * lt + 2);
  return numerator / ((lb - lc) * (lb - ld));
}

/**
 * DEIS (Zhang & Chen 2022, arXiv:2204.13902) with the log-rho polynomial extrapolation of the noise
 * prediction, where rho = sigma_t / alpha_t is the Karras-style sigma.
 */
export class DEISMultistepScheduler extends SolverScheduler {
  private readonly config: typeof DEFAULTS;

  constructor(raw: RawSchedulerConfig, steps: number, overrides: Record<string, unknown> = {}) {
    const c = resolveConfig(DEFAULTS, raw, overrides as Partial<typeof DEFAULTS>);
    checkSteps(steps, NAME, c.num_train_timesteps);
    const prediction = checkPrediction(c.prediction_type, NAME, ['epsilon', 'sample', 'v_prediction']);
    if (!['deis', 'dpmsolver', 'dpmsolver++'].includes(c.algorithm_type)) {
      throw new SdError(
        'bad-argument',
        `${NAME}: algorithm_type "${c.algorithm_type}" is not supported. Expected deis.`,
      );
    }
    if (!['logrho', 'midpoint', 'heun', 'bh1', 'bh2'].includes(c.solver_type)) {
      throw new SdError('bad-argument', `${NAME}: solver_type "${c.solver_type}" is not supported. Expected logrho.`);
    }
    if (![1, 2, 3].includes(c.solver_order)) {
      throw new SdError('bad-argument', `${NAME}: solver_order ${c.solver_order} is not supported. Use 1, 2 or 3.`);
    }
    super(legacySolverSchedule(c, steps, NAME), c.solver_order, prediction, c);
    this.config = c;
  }

  step({ modelOutput, stepIndex: i, sample, shape }: StepInput): StepOutput {
    const c = this.config;
    const n = this.timesteps.length;
    // 1. Lower the order on the last steps of short schedules.
    const lowerOrderFinal = i === n - 1 && c.lower_order_final && n < 15;
    const lowerOrderSecond = i === n - 2 && c.lower_order_final && n < 15;

    // 2. Convert the model output to x0 (optionally thresholded), then back to the noise DEIS integrates.
    const x0 = this.convertModelOutput(modelOutput, sample, shape, i, true);
    const eps = epsilonFromX0(sample, x0, this.alphaSigmaAt(i));
    this.remember(eps);

    // 3. Update with the highest order the history and the position allow.
    const order = this.multistepOrder(c.solver_order, lowerOrderFinal, lowerOrderSecond);
    const prevSample =
      order === 1
        ? this.firstOrderUpdate(i, sample, eps, false)
        : order === 2
          ? this.secondOrder(i, sample)
          : this.thirdOrder(i, sample);
    return { prevSample, denoised: x0 };
  }

  /** rho = sigma / alpha of the target and of the `count` latest points, newest first. */
  private rhos(i: number, count: number): { alphaT: number; alphaS0: number; rhoT: number; rhoS: number[] } {
    const t = this.alphaSigmaAt(i + 1);
    const s = Array.from({ length: count }, (_, k) => this.alphaSigmaAt(i - k));
    return { alphaT: t.alpha, alphaS0: s[0]!.alpha, rhoT: t.sigma / t.alpha, rhoS: s.map((p) => p.sigma / p.alpha) };
  }

  private secondOrder(i: number, x: Float32Array): Float32Array {
    const [m0, m1] = this.recentOutputs(0, 1);
    const { alphaT, alphaS0, rhoT, rhoS } = this.rhos(i, 2);
    const [r0, r1] = rhoS as [number, number];
    const coef1 = basis2(rhoT, r0, r1) - basis2(r0, r0, r1);
    const coef2 = basis2(rhoT, r1, r0) - basis2(r0, r1, r0);
    return combine([
      [alphaT / alphaS0, x],
      [alphaT * coef1, m0],
      [alphaT * coef2, m1],
    ]);
  }

  private thirdOrder(i: number, x: Float32Array): Float32Array {
    const [m0, m1, m2] = this.recentOutputs(0, 1, 2);
    const { alphaT, alphaS0, rhoT, rhoS } = this.rhos(i, 3);
    const [r0, r1, r2] = rhoS as [number, number, number];
    const coef1 = basis3(rhoT, r0, r1, r2) - basis3(r0, r0, r1, r2);
    const coef2 = basis3(rhoT, r1, r2, r0) - basis3(r0, r1, r2, r0);
    const coef3 = basis3(rhoT, r2, r0, r1) - basis3(r0, r2, r0, r1);
    return combine([
      [alphaT / alphaS0, x],
      [alphaT * coef1, m0],
      [alphaT * coef2, m1],
      [alphaT * coef3, m2],
    ]);
  }
}
