import type { RawSchedulerConfig } from './scheduler.ts';

/**
 * diffusers' `from_config` semantics: start from the class's own defaults, take every key of the
 * model's `scheduler_config.json` that the class knows (ignoring the others), then apply the
 * sampler's explicit arguments. Keys stay snake_case here, at the JSON boundary; classes map them
 * to typed fields once, in their constructor.
 */
export function resolveConfig<T extends Record<string, unknown>>(
  defaults: T,
  raw: RawSchedulerConfig,
  overrides: Partial<T> = {},
): T {
  const out: Record<string, unknown> = { ...defaults };
  for (const key of Object.keys(defaults)) {
    const value = raw[key];
    if (value !== undefined) out[key] = value;
  }
  for (const [key, value] of Object.entries(overrides)) {
    if (value !== undefined) out[key] = value;
  }
  return out as T;
}

/**
 * The config options that make a scheduler's step nonlinear in the latents (clipping or dynamic
 * thresholding of x0), each with the class's default. The device loop runs only linear steps; it looks
 * these up in the model's config and the sampler's arguments before planning.
 */
export type NonlinearOptions = Readonly<Record<string, boolean>>;

/** `keys` of a class's `defaults`, in the given order: the class's `nonlinearOptions`. */
export function nonlinearDefaults<T extends Record<string, unknown>>(
  defaults: T,
  keys: readonly (keyof T & string)[],
): NonlinearOptions {
  return Object.fromEntries(keys.map((key) => [key, defaults[key] === true]));
}
