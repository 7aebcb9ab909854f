/**
 * When the device loop may run a request: only when guidance and the scheduler are linear maps of
 * their arrays. Two checks, both before any model call:
 * 1. configuration: the options that make a scheduler nonlinear (clipping or dynamic thresholding
 *    of x0), as each scheduler class declares them, are looked up in the model's config, the sampler's
 *    arguments and the class defaults;
 * 2. a probe: the loop is walked once more on random values (16 per source) and compared with the
 *    plan's coefficients applied to the same values. This catches nonlinear code no option names
 *    (and a wrong declaration); the tolerance is far above float32 rounding and far below what
 *    a clip or a threshold changes.
 */
import { createRandomSource } from '../rng/seed.ts';
import { NONLINEAR_OPTIONS } from '../schedulers/nonlinear-options.ts';
import { findSampler } from '../schedulers/registry.ts';
import type { RawSchedulerConfig } from '../schedulers/scheduler.ts';
import { planLinearLoop, walkLoop, type LinearPlan, type LoopSpec } from './linear-plan.ts';

/** Values per source in the probe walk. */
const PROBE_LENGTH = 16;
/** Allowed |probe - plan| relative to Σ_j |c_j · v_j|: float32 rounding stays near 1e-7 (measured up to 1000 steps), a clip moves it by O(1). */
const PROBE_TOLERANCE = 1e-3;

/**
 * The first option that makes the request's scheduler nonlinear, e.g. `clip_sample`, or undefined.
 * @param sampler an A1111 sampler name, or null for the config's own class
 */
export function nonlinearOption(config: RawSchedulerConfig, sampler: string | null): string | undefined {
  const entry = sampler === null ? undefined : findSampler(sampler);
  const className = entry?.className ?? String(config['_class_name']);
  const options = NONLINEAR_OPTIONS[className] ?? {};
  for (const [key, byDefault] of Object.entries(options)) {
    const value = entry?.args[key] ?? config[key] ?? byDefault;
    if (value === true) return key;
  }
  return undefined;
}

/**
 * Walks the loop on random values and compares every planned array with the walk's.
 * @returns why the plan does not hold (the first array that differs), or undefined when it does
 */
export function probeLinearity(spec: LoopSpec, plan: LinearPlan): string | undefined {
  const random = createRandomSource('cpu', 20240527n);
  const values: Float32Array[] = [];
  const walk = walkLoop(spec, () => {
    const v = random.randn([PROBE_LENGTH]);
    values.push(v);
    return v;
  });
  if (walk.sources.length !== plan.sources.length)
    return `the probe made ${walk.sources.length} sources, the plan ${plan.sources.length}`;
  const differs = (coefficients: Float32Array, actual: Float32Array): boolean => {
    for (let e = 0; e < PROBE_LENGTH; e++) {
      let expected = 0;
      let bound = 0;
      coefficients.forEach((c, j) => {
        const term = c * ((values[j] as Float32Array)[e] as number);
        expected += term;
        bound += Math.abs(term);
      });
      if (!(Math.abs((actual[e] as number) - expected) <= PROBE_TOLERANCE * bound)) return true;
    }
    return false;
  };
  for (const [k, call] of walk.calls.entries()) {
    const planned = plan.calls[k];
    if (!planned) return `the probe made more model calls than the plan`;
    if (differs(planned.sample, call.sample))
      return `the latents of model call ${k + 1} are not a linear combination of the sources`;
    if (differs(planned.preview, call.preview))
      return `the x0 estimate of model call ${k + 1} is not a linear combination of the sources`;
  }
  if (differs(plan.final, walk.final)) return 'the final latents are not a linear combination of the sources';
  return undefined;
}

/** A plan the device loop can run, or why the request needs the CPU loop. */
export type DevicePlan = { plan: LinearPlan; reason?: undefined } | { plan?: undefined; reason: string };

/** Plans the loop for the device and checks it (options, then the probe). */
export function planDeviceLoop(spec: LoopSpec, config: RawSchedulerConfig, sampler: string | null): DevicePlan {
  const option = nonlinearOption(config, sampler);
  if (option) return { reason: `the scheduler's ${option} option is not a linear operation` };
  const plan = planLinearLoop(spec);
  const reason = probeLinearity(spec, plan);
  return reason ? { reason } : { plan };
}
