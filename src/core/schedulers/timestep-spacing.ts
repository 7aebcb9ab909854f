/**
 * Discrete timestep selection ("linspace", "leading", "trailing"; Lin et al. 2023, Table 2) as the
 * alpha-based diffusers 0.27.2 schedulers (DDIM, PNDM, DPM-Solver, UniPC, DEIS) compute it with numpy.
 * numpy's exact float behaviour matters here: `round` is half-to-even and `arange` with a float step
 * can yield one element more than the step count suggests, and diffusers keeps whatever numpy returns.
 */
import { SdError } from '../errors.ts';
import { linspace } from './betas.ts';

/** The `timestep_spacing` values diffusers accepts. */
export type TimestepSpacing = 'linspace' | 'leading' | 'trailing';

/** numpy's `round`: halves go to the even neighbour (937.5 → 938, 812.5 → 812). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * `np.arange(start, stop, step)` for a float step: length ceil((stop - start) / step), and element i is
 * start + i * ((start + step) - start), which is how numpy fills float ranges.
 */
export function numpyArange(start: number, stop: number, step: number): Float64Array {
  const length = Math.max(0, Math.ceil((stop - start) / step));
  const delta = start + step - start;
  const out = new Float64Array(length);
  for (let i = 0; i < length; i++) out[i] = i === 0 ? start : start + i * delta;
  return out;
}

/** Validates a `timestep_spacing` config value. */
export function checkSpacing(value: unknown, scheduler: string): TimestepSpacing {
  if (value === 'linspace' || value === 'leading' || value === 'trailing') return value;
  throw new SdError(
    'bad-argument',
    `${scheduler}: timestep_spacing "${String(value)}" is not supported. Expected one of: linspace, leading, trailing.`,
  );
}

/** Validates an inference step count. */
export function checkSteps(steps: number, scheduler: string, max: number): void {
  if (!Number.isInteger(steps) || steps < 1 || steps > max) {
    throw new SdError(
      'bad-argument',
      `${scheduler}: ${steps} inference steps is not allowed. Use a whole number from 1 to ${max}.`,
    );
  }
}

/**
 * DDIM / PNDM timesteps: `count` training timesteps, descending.
 * linspace: round(linspace(0, N-1, count)); leading: i * (N // count) + stepsOffset;
 * trailing: round(arange(N, 0, -N/count)) - 1.
 */
export function spacedTimesteps(
  spacing: TimestepSpacing,
  numTrainTimesteps: number,
  count: number,
  stepsOffset: number,
): Float64Array {
  switch (spacing) {
    case 'linspace':
      return linspace(0, numTrainTimesteps - 1, count)
        .map(roundHalfEven)
        .reverse();
    case 'leading': {
      const ratio = Math.floor(numTrainTimesteps / count);
      return Float64Array.from({ length: count }, (_, i) => (count - 1 - i) * ratio + stepsOffset);
    }
    case 'trailing':
      return trailingTimesteps(numTrainTimesteps, numTrainTimesteps, count);
  }
}

/**
 * DPM-Solver / UniPC / DEIS timesteps: the same three rules applied to `steps + 1` points with the
 * final (t = 0) point dropped, so the last model call is not made at t = 0.
 * @param lastTimestep N, or N minus the clipped tail when `lambda_min_clipped` applies
 */
export function solverTimesteps(
  spacing: TimestepSpacing,
  numTrainTimesteps: number,
  steps: number,
  stepsOffset: number,
  lastTimestep = numTrainTimesteps,
): Float64Array {
  switch (spacing) {
    case 'linspace':
      return linspace(0, lastTimestep - 1, steps + 1)
        .map(roundHalfEven)
        .reverse()
        .subarray(0, steps)
        .slice();
    case 'leading': {
      const ratio = Math.floor(lastTimestep / (steps + 1));
      return Float64Array.from({ length: steps }, (_, i) => (steps - i) * ratio + stepsOffset);
    }
    case 'trailing':
      return trailingTimesteps(lastTimestep, numTrainTimesteps, steps);
  }
}

/** trailing spacing: round(arange(start, 0, -N / count)) - 1, as many as numpy's arange gives. */
function trailingTimesteps(start: number, numTrainTimesteps: number, count: number): Float64Array {
  return numpyArange(start, 0, -numTrainTimesteps / count).map((t) => roundHalfEven(t) - 1);
}
