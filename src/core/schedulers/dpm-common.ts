/**
 * Shared pieces of the DPM-Solver family as diffusers 0.27.2 writes them (DPMSolverMultistep,
 * DPMSolverSinglestep, UniPCMultistep, DEISMultistep): their common config, the inference sigma schedule
 * of the VP noise schedule in sigma form (Lu et al. 2022, "DPM-Solver"), the coefficients of a
 * DPM-Solver(++) step, and the config checks the two DPM-Solver classes share.
 */
import { SdError } from '../errors.ts';
import { BETA_DEFAULTS, trainingAlphasCumprod } from './alpha-schedule.ts';
import type { AlphaSigma } from './alpha-sigma.ts';
import { linspace } from './betas.ts';
import { THRESHOLD_DEFAULTS } from './prediction.ts';
import { karrasSigmas, logSigmasF32, sigmaToTimestep, trainSigmas, withFinalSigma } from './sigmas.ts';
import { checkSpacing, roundHalfEven, solverTimesteps, type TimestepSpacing } from './timestep-spacing.ts';

const f32 = Math.fround;

/** Config keys (and diffusers' defaults) every solver of the family takes. */
export const SOLVER_DEFAULTS = {
  ...BETA_DEFAULTS,
  ...THRESHOLD_DEFAULTS,
  solver_order: 2,
  prediction_type: 'epsilon',
};

/**
 * Coefficients of one DPM-Solver(++) step from `s` to `t` (h = lambda_t - lambda_s), for
 * x_t = a * x_s + b * D0 + c1 * D1 + c2 * D2: b alone is first order (DDIM); midpoint second order uses
 * 0.5 * b on D1, Heun-type second and third order use c1 and c2 (Lu et al. 2022, both papers).
 * @param dataPrediction DPM-Solver++ (D are x0 predictions) rather than DPM-Solver (D are noise)
 */
export function solverCoefficients(
  t: AlphaSigma,
  s: AlphaSigma,
  dataPrediction: boolean,
): { a: number; b: number; c1: number; c2: number } {
  const h = t.lambda - s.lambda;
  if (dataPrediction) {
    const phi = Math.expm1(-h);
    return {
      a: t.sigma / s.sigma,
      b: -t.alpha * phi,
      c1: t.alpha * (phi / h + 1),
      c2: -t.alpha * ((phi + h) / (h * h) - 0.5),
    };
  }
  const phi = Math.expm1(h);
  return {
    a: t.alpha / s.alpha,
    b: -t.sigma * phi,
    c1: -t.sigma * (phi / h - 1),
    c2: -t.sigma * ((phi - h) / (h * h) - 0.5),
  };
}

/** Where the last sigma (after the final model call) comes from. */
export type FinalSigma = 'zero' | 'sigma_min' | 'repeat_last';

export interface SolverScheduleOptions {
  /** alphas_cumprod as float32 values, [num_train_timesteps]. */
  alphasCumprod: Float64Array;
  steps: number;
  spacing: TimestepSpacing;
  stepsOffset: number;
  useKarrasSigmas: boolean;
  useLuLambdas?: boolean;
  finalSigma: FinalSigma;
  /** N minus the timesteps cut by `lambda_min_clipped` (N when nothing is clipped). */
  lastTimestep?: number;
}

export interface SolverSchedule {
  /** Training timestep of each model call, Float64Array [steps]. */
  timesteps: Float64Array;
  /** Karras-style sigma before each call plus the final one, float32 values, Float64Array [steps + 1]. */
  sigmas: Float64Array;
}

/**
 * The `set_timesteps` of the DPM-Solver family: spaced (or Karras / log-uniform) timesteps and their
 * sigmas. Karras and Lu timesteps are `round(_sigma_to_t(sigma))`, so they must agree exactly with
 * diffusers: the ramp is numpy's linspace (i * (1 / (n - 1))) and the rounding is half-to-even.
 */
export function solverSchedule(o: SolverScheduleOptions): SolverSchedule {
  const n = o.alphasCumprod.length;
  const trained = trainSigmas(o.alphasCumprod);
  const logTrained = logSigmasF32(trained);
  let timesteps: Float64Array;
  let sigmas: Float64Array;
  if (o.useKarrasSigmas || o.useLuLambdas) {
    const ramp = linspace(0, 1, o.steps);
    const lambdaMax = logTrained[n - 1] as number;
    sigmas = o.useKarrasSigmas
      ? karrasSigmas(trained[0] as number, trained[n - 1] as number, ramp)
      : ramp.map((r) => Math.exp(lambdaMax + r * ((logTrained[0] as number) - lambdaMax)));
    timesteps = sigmas.map((s) => roundHalfEven(sigmaToTimestep(s, logTrained)));
  } else {
    timesteps = solverTimesteps(o.spacing, n, o.steps, o.stepsOffset, o.lastTimestep ?? n);
    // np.interp at whole timesteps: the training sigma itself, clamped at both ends.
    sigmas = timesteps.map((t) => trained[Math.min(Math.max(t, 0), n - 1)] as number);
  }
  const last =
    o.finalSigma === 'zero'
      ? 0
      : o.finalSigma === 'sigma_min'
        ? (trained[0] as number)
        : (sigmas[sigmas.length - 1] as number);
  return { timesteps, sigmas: withFinalSigma(sigmas, last) };
}

/**
 * The schedule of UniPC and DEIS in 0.27.2, which have no `final_sigmas_type`: spaced or Karras
 * timesteps, ending at the smallest training sigma (with Karras sigmas: the last sigma repeated).
 */
export function legacySolverSchedule(
  config: typeof SOLVER_DEFAULTS & { timestep_spacing: string; steps_offset: number; use_karras_sigmas: boolean },
  steps: number,
  scheduler: string,
): SolverSchedule {
  return solverSchedule({
    alphasCumprod: trainingAlphasCumprod(config),
    steps,
    spacing: checkSpacing(config.timestep_spacing, scheduler),
    stepsOffset: config.steps_offset,
    useKarrasSigmas: config.use_karras_sigmas,
    finalSigma: config.use_karras_sigmas ? 'repeat_last' : 'sigma_min',
  });
}

/** The config keys of both DPM-Solver classes that shape their schedule. */
export interface DpmSolverScheduleConfig {
  num_train_timesteps: number;
  use_karras_sigmas: boolean;
  use_lu_lambdas?: boolean;
  final_sigmas_type: string;
  lambda_min_clipped: number;
}

/**
 * The schedule of DPMSolverMultistep and DPMSolverSinglestep: spaced, Karras or Lu timesteps, the final sigma
 * as `final_sigmas_type` says, and the low-SNR tail cut by `lambda_min_clipped`.
 * @param alphasCumprod the class's float32 alphas_cumprod
 */
export function dpmSolverSchedule(
  config: DpmSolverScheduleConfig,
  alphasCumprod: Float64Array,
  steps: number,
  spacing: TimestepSpacing,
  stepsOffset: number,
): SolverSchedule {
  return solverSchedule({
    alphasCumprod,
    steps,
    spacing,
    stepsOffset,
    useKarrasSigmas: config.use_karras_sigmas,
    useLuLambdas: config.use_lu_lambdas,
    finalSigma: config.final_sigmas_type as 'zero' | 'sigma_min',
    lastTimestep: config.num_train_timesteps - clippedTimestepCount(alphasCumprod, config.lambda_min_clipped),
  });
}

/**
 * `lambda_min_clipped` support: how many of the lowest-SNR training timesteps have
 * lambda = log(alpha) - log(sigma) below the threshold (torch.searchsorted on the flipped lambdas).
 */
export function clippedTimestepCount(alphasCumprod: Float64Array, lambdaMinClipped: number): number {
  if (!(lambdaMinClipped > -Infinity)) return 0;
  let count = 0;
  for (const a of alphasCumprod) {
    const lambda = f32(f32(Math.log(f32(Math.sqrt(a)))) - f32(Math.log(f32(Math.sqrt(f32(1 - a))))));
    if (lambda < lambdaMinClipped) count++;
  }
  return count;
}

/** The config keys both DPM-Solver classes check with `checkDpmSolverTypes`. */
export interface DpmSolverTypes {
  algorithm_type: string;
  solver_type: string;
  final_sigmas_type: string;
}

/**
 * The `__init__` checks DPMSolverMultistep and DPMSolverSinglestep share, in diffusers' order: the names of
 * the sibling schedulers mapped onto their own (in place), then the algorithm, solver and final-sigma types.
 * @param algorithms the `algorithm_type`s the class supports (those ending in "++" predict data)
 * @param unsupportedAlgorithm the end of the message for any other `algorithm_type`
 * @throws SdError 'bad-argument' naming the first unsupported value
 */
export function checkDpmSolverTypes(
  c: DpmSolverTypes,
  scheduler: string,
  algorithms: readonly string[],
  unsupportedAlgorithm: string,
): void {
  if (c.algorithm_type === 'deis') c.algorithm_type = 'dpmsolver++';
  if (['logrho', 'bh1', 'bh2'].includes(c.solver_type)) c.solver_type = 'midpoint';
  const fail = (what: string): never => {
    throw new SdError('bad-argument', `${scheduler}: ${what}`);
  };
  if (!algorithms.includes(c.algorithm_type)) {
    fail(`algorithm_type "${c.algorithm_type}" is not supported${unsupportedAlgorithm}`);
  }
  if (c.solver_type !== 'midpoint' && c.solver_type !== 'heun') {
    fail(`solver_type "${c.solver_type}" is not supported. Expected midpoint or heun.`);
  }
  if (c.final_sigmas_type !== 'zero' && c.final_sigmas_type !== 'sigma_min') {
    fail(`final_sigmas_type "${c.final_sigmas_type}" is not supported. Expected zero or sigma_min.`);
  }
  if (!c.algorithm_type.endsWith('++') && c.final_sigmas_type === 'zero') {
    const dataAlgorithms = algorithms.filter((a) => a.endsWith('++')).join(' or ');
    fail(`final_sigmas_type "zero" needs algorithm_type ${dataAlgorithms}. Use final_sigmas_type "sigma_min".`);
  }
}
