/**
 * What the sigma-parameterised solvers of the DPM-Solver family (multistep, singlestep, UniPC, DEIS)
 * share as `Scheduler`s: a fixed timestep/sigma schedule, a short history of converted model outputs,
 * identity input scaling and VP `add_noise`.
 */
import { alphaSigma, type SolverSchedule } from './dpm-common.ts';
import type { Scheduler, StepInput, StepOutput } from './scheduler.ts';

export abstract class SolverScheduler implements Scheduler {
  readonly order = 1;
  readonly initNoiseSigma = 1;
  readonly timesteps: Float64Array;
  /** Karras-style sigma before each call, plus the final one. Float64Array [steps + 1], float32 values. */
  readonly sigmas: Float64Array;
  /** Converted model outputs of the latest calls, oldest first; null until that many calls were made. */
  protected readonly history: (Float32Array | null)[];

  protected constructor(schedule: SolverSchedule, historyLength: number) {
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
    const { alpha, sigma } = alphaSigma(this.sigmas[stepIndex] as number);
    return original.map((x, k) => alpha * x + sigma * (noise[k] as number));
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
}
