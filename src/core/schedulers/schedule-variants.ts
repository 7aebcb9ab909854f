/**
 * Sampler names beyond the registry's table that diffusers reproduces by one more scheduler argument: A1111's
 * "Euler"/"Heun" with the Karras schedule, and A1111's "SGM Uniform" schedule, which diffusers' scheduler
 * overview maps to `timestep_spacing: "trailing"`. They are accepted by name ("Euler SGM Uniform") and
 * listed after the fixtures README's table (the registry's `ALL_SAMPLER_NAMES`).
 */

/** One schedule suffix: the arguments it adds and the registry rows it may follow. */
export interface ScheduleVariant {
  /** Suffix after the base name and one space, as A1111's combined names write it. */
  readonly suffix: string;
  /** Scheduler arguments added on top of the base row's. */
  readonly args: Readonly<Record<string, unknown>>;
  /** Registry names whose diffusers class implements those arguments here. */
  readonly bases: readonly string[];
}

export const SCHEDULE_VARIANTS: readonly ScheduleVariant[] = [
  { suffix: 'Karras', args: { use_karras_sigmas: true }, bases: ['Euler', 'Heun'] },
  {
    suffix: 'SGM Uniform',
    args: { timestep_spacing: 'trailing' },
    // DPMSolverSinglestepScheduler (DPM++ SDE) ignores timestep_spacing in diffusers 0.27.2
    bases: ['Euler', 'Euler a', 'Heun', 'LMS', 'DPM2', 'DPM2 a', 'DPM++ 2M', 'DPM++ 2M SDE'],
  },
];
