// Port of diffusers 0.27.2 UniPCMultistepScheduler: UniPC predictor-corrector, B(h) variants bh1/bh2 (A1111 "UniPC").
import { SdError } from '../errors.ts';
import { resolveConfig } from './config.ts';
import { legacySolverSchedule, SOLVER_DEFAULTS } from './dpm-common.ts';
import { combine, type Term } from './linear-combination.ts';
import { checkPrediction } from './prediction.ts';
import type { RawSchedulerConfig, StepInput, StepOutput } from './scheduler.ts';
import { SolverScheduler } from './solver-scheduler.ts';
import { checkSteps } from './timestep-spacing.ts';

const DEFAULTS = {
  ...SOLVER_DEFAULTS,
  predict_x0: true,
  solver_type: 'bh2',
  lower_order_final: true,
  disable_corrector: [] as readonly number[],
  use_karras_sigmas: false,
  timestep_spacing: 'linspace',
  steps_offset: 0,
};

const NAME = 'UniPCMultistepScheduler';

/** Solves the small dense system A x = b (Gaussian elimination with partial pivoting). */
function solve(a: number[][], b: number[]): number[] {
  const n = b.length;
  const m = a.map((row, i) => [...row, b[i] as number]);
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(m[r]![col]!) > Math.abs(m[pivot]![col]!)) pivot = r;
    [m[col], m[pivot]] = [m[pivot]!, m[col]!];
    for (let r = col + 1; r < n; r++) {
      const f = m[r]![col]! / m[col]![col]!;
      for (let k = col; k <= n; k++) m[r]![k] = m[r]![k]! - f * m[col]![k]!;
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let s = m[r]![n]!;
    for (let k = r + 1; k < n; k++) s -= m[r]![k]! * x[k]!;
    x[r] = s / m[r]![r]!;
  }
  return x;
}

/**
 * UniPC (Zhao et al. 2023, arXiv:2302.04867): a multistep predictor (UniP) whose result is corrected
 * (UniC) once the model has been evaluated there, reusing that evaluation for the next prediction.
 */
export class UniPCMultistepScheduler extends SolverScheduler {
  private readonly config: typeof DEFAULTS;
  /** The predictor's input at the previous step and its order (what UniC corrects from). */
  private lastSample: Float32Array | null = null;
  private lastOrder = 1;

  constructor(raw: RawSchedulerConfig, steps: number, overrides: Record<string, unknown> = {}) {
    const c = resolveConfig(DEFAULTS, raw, overrides as Partial<typeof DEFAULTS>);
    checkSteps(steps, NAME, c.num_train_timesteps);
    const prediction = checkPrediction(c.prediction_type, NAME, ['epsilon', 'sample', 'v_prediction']);
    if (['midpoint', 'heun', 'logrho'].includes(c.solver_type)) c.solver_type = 'bh2';
    if (c.solver_type !== 'bh1' && c.solver_type !== 'bh2') {
      throw new SdError(
        'bad-argument',
        `${NAME}: solver_type "${c.solver_type}" is not supported. Expected bh1 or bh2.`,
      );
    }
    if (!Number.isInteger(c.solver_order) || c.solver_order < 1) {
      throw new SdError(
        'bad-argument',
        `${NAME}: solver_order ${c.solver_order} is not supported. Use a whole number from 1 (2 is the default).`,
      );
    }
    super(legacySolverSchedule(c, steps, NAME), c.solver_order, prediction, c);
    this.config = c;
  }

  step({ modelOutput, stepIndex: i, sample, shape }: StepInput): StepOutput {
    const c = this.config;
    // 1. Convert the model output (x0 by default) at the current, not yet corrected, sample.
    const converted = this.convertModelOutput(modelOutput, sample, shape, i, c.predict_x0);

    // 2. UniC: correct the previous prediction with this evaluation, unless disabled for that step.
    let x = sample;
    if (i > 0 && !c.disable_corrector.includes(i - 1) && this.lastSample !== null) {
      x = this.update(i - 1, i, this.lastSample, this.lastOrder, converted);
    }

    // 3. Remember the converted output.
    this.remember(converted);

    // 4. UniP: predict the next sample with the order the warm-up and the end of the schedule allow.
    const order = Math.min(
      c.lower_order_final ? Math.min(c.solver_order, this.timesteps.length - i) : c.solver_order,
      this.lowerOrderNums + 1,
    );
    this.lastOrder = order;
    this.lastSample = x;
    const prevSample = this.update(i, i + 1, x, order, null);
    if (this.lowerOrderNums < c.solver_order) this.lowerOrderNums++;
    return c.predict_x0 ? { prevSample, denoised: converted } : { prevSample };
  }

  /**
   * One B(h) update from sigmas[from] to sigmas[to] of the given order. The newest history entry m0
   * belongs to `from`; older entries give the differences D_k = (m_k - m0) / r_k. With `modelAtTo`
   * (UniC) the evaluation at `to` is included as the last difference; without it (UniP) it is not.
   */
  private update(
    from: number,
    to: number,
    x: Float32Array,
    order: number,
    modelAtTo: Float32Array | null,
  ): Float32Array {
    const dataPrediction = this.config.predict_x0;
    const [t, s0] = this.alphaSigmasAt(to, from);
    const h = t.lambda - s0.lambda;
    const m0 = this.recent(0) as Float32Array;
    const rks: number[] = [];
    const older: Float32Array[] = [];
    for (let k = 1; k < order; k++) {
      rks.push((this.alphaSigmaAt(from - k).lambda - s0.lambda) / h);
      older.push(this.recent(k) as Float32Array);
    }
    const hh = dataPrediction ? -h : h;
    const hPhi1 = Math.expm1(hh);
    const bh = this.config.solver_type === 'bh1' ? hh : Math.expm1(hh);
    // rho weights: 0.5 for the lowest order, else the solution of R rho = b (R_ij = r_j^i).
    const needed = modelAtTo ? order : order - 1;
    let rhos: number[] = [];
    if (needed > 0) {
      if (needed === 1) rhos = [0.5];
      else {
        const r = [...rks, 1].slice(0, needed);
        const b: number[] = [];
        let hPhiK = hPhi1 / hh - 1;
        let factorial = 1;
        for (let k = 1; k <= needed; k++) {
          b.push((hPhiK * factorial) / bh);
          factorial *= k + 1;
          hPhiK = hPhiK / hh - 1 / factorial;
        }
        rhos = solve(
          r.map((_, row) => r.map((rk) => rk ** row)),
          b,
        );
      }
    }
    // x_t = lead * x - outer * hPhi1 * m0 - outer * B(h) * (sum_k rho_k D_k [+ rho_last (model_t - m0)]).
    const lead = dataPrediction ? t.sigma / s0.sigma : t.alpha / s0.alpha;
    const outer = dataPrediction ? t.alpha : t.sigma;
    const terms: Term[] = [[lead, x]];
    let onM0 = -outer * hPhi1;
    older.forEach((mk, k) => {
      const w = (-outer * bh * (rhos[k] as number)) / (rks[k] as number);
      terms.push([w, mk]);
      onM0 -= w;
    });
    if (modelAtTo) {
      const w = -outer * bh * (rhos[rhos.length - 1] as number);
      terms.push([w, modelAtTo]);
      onM0 -= w;
    }
    terms.push([onM0, m0]);
    return combine(terms);
  }
}
