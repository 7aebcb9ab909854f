/**
 * What the sigma-parameterised solvers of the DPM-Solver family (multistep, singlestep, UniPC, DEIS)
 * share as `Scheduler`s: a fixed timestep/sigma schedule, a short history of converted model outputs,
 * identity input scaling, VP `add_noise`, diffusers' `convert_model_output` and the first-order step.
 */
import { alphaSigmaFromKarrasSigma, type AlphaSigma } from './alpha-sigma.ts';
import { nonlinearDefaults, type NonlinearOptions } from './config.ts';
import { solverCoefficients, SOLVER_DEFAULTS, type SolverSchedule } from './dpm-common.ts';
import { combine } from './linear-combination.ts';
import { clipOrThreshold, predictEpsilon, predictX0, type X0LimitConfig } from './prediction.ts';
import type { PredictionType, Scheduler, StepInput, StepOutput } from './scheduler.ts';

/** Base of the DPM-Solver family: the `Scheduler` members, history and update pieces they share. */
export abstract class SolverScheduler implements Scheduler {
  /** Dynamic thresholding of x0 (off by default) makes the step nonlinear. */
  static readonly nonlinearOptions: NonlinearOptions = nonlinearDefaults(SOLVER_DEFAULTS, ['thresholding']);
  readonly order = 1;
  readonly initNoiseSigma = 1;
  readonly timesteps: Float64Array;
  /** Karras-style sigma before each call, plus the final one. Float64Array [steps + 1], float32 values. */
  readonly sigmas: Float64Array;
  /** Converted model outputs of the latest calls, oldest first; null until that many calls were made. */
  protected readonly history: (Float32Array | null)[];
  /** Steps taken while warming up, up to the solver order (diffusers' `lower_order_nums`). */
  protected lowerOrderNums = 0;

  /**
   * @param historyLength how many converted outputs the solver keeps (its `solver_order`)
   * @param limits the class's config, for the thresholding of x0 in `convertModelOutput`
   */
  protected constructor(
    schedule: SolverSchedule,
    historyLength: number,
    protected readonly prediction: PredictionType,
    private readonly limits: X0LimitConfig,
  ) {
    this.timesteps = schedule.timesteps;
    this.sigmas = schedule.sigmas;
    this.history = new Array<Float32Array | null>(historyLength).fill(null);
  }

  /** These solvers work on unscaled latents: diffusers' `scale_model_input` returns the sample as is. */
  scaleModelInput(): number {
    return 1;
  }

  abstract step(input: StepInput): StepOutput;

  /** alpha * x0 + sigma * noise at the sigma of `stepIndex` (diffusers' `add_noise` with `begin_index`). */
  addNoise(original: Float32Array, noise: Float32Array, stepIndex: number): Float32Array {
    const { alpha, sigma } = this.alphaSigmaAt(stepIndex);
    return original.map((x, k) => alpha * x + sigma * (noise[k] as number));
  }

  /** VP coefficients of `sigmas[index]`. */
  protected alphaSigmaAt(index: number): AlphaSigma {
    return alphaSigmaFromKarrasSigma(this.sigmas[index] as number);
  }

  /** VP coefficients at several schedule indices, in the order given (e.g. the target, then the latest points). */
  protected alphaSigmasAt<const K extends readonly number[]>(...indices: K): { [P in keyof K]: AlphaSigma } {
    return indices.map((index) => this.alphaSigmaAt(index)) as { [P in keyof K]: AlphaSigma };
  }

  /**
   * diffusers' `convert_model_output`: x0 (thresholded when the config says so) for a data-prediction
   * solver, else the noise, at the sigma of call `i`.
   */
  protected convertModelOutput(
    modelOutput: Float32Array,
    sample: Float32Array,
    shape: readonly number[],
    i: number,
    dataPrediction: boolean,
  ): Float32Array {
    const coef = this.alphaSigmaAt(i);
    return dataPrediction
      ? clipOrThreshold(predictX0(this.prediction, modelOutput, sample, coef), shape, this.limits)
      : predictEpsilon(this.prediction, modelOutput, sample, coef);
  }

  /** The first-order DPM-Solver(++) step from sigmas[i] to sigmas[i + 1] (DDIM): a * x + b * D0. */
  protected firstOrderUpdate(i: number, x: Float32Array, d0: Float32Array, dataPrediction: boolean): Float32Array {
    const [t, s] = this.alphaSigmasAt(i + 1, i);
    const { a, b } = solverCoefficients(t, s, dataPrediction);
    return combine([
      [a, x],
      [b, d0],
    ]);
  }

  /**
   * The order of a multistep update (DPM-Solver multistep and DEIS `step`): 1 for the first step or where
   * `lowerFinal`, 2 for the second or where `lowerSecond`, else 3, never above `solverOrder` (1 to 3).
   * Counts the step towards the warm-up.
   */
  protected multistepOrder(solverOrder: number, lowerFinal: boolean, lowerSecond: boolean): number {
    const order =
      solverOrder === 1 || this.lowerOrderNums < 1 || lowerFinal
        ? 1
        : solverOrder === 2 || this.lowerOrderNums < 2 || lowerSecond
          ? 2
          : 3;
    if (this.lowerOrderNums < solverOrder) this.lowerOrderNums++;
    return order;
  }

  /** Appends the newest converted output, dropping the oldest. */
  protected remember(converted: Float32Array): void {
    this.history.shift();
    this.history.push(converted);
  }

  /** The k-th newest converted output (0 = the current call's); null before the warm-up has filled it. */
  protected recent(k: number): Float32Array | null {
    return this.history[this.history.length - 1 - k] ?? null;
  }

  /** The k-th newest converted outputs for each k given, once the warm-up has filled them. */
  protected recentOutputs<const K extends readonly number[]>(...ks: K): { [P in keyof K]: Float32Array } {
    return ks.map((k) => this.recent(k)) as { [P in keyof K]: Float32Array };
  }
}
