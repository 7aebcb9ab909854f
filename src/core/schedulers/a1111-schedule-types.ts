/**
 * AUTOMATIC1111 1.10's schedule types ("Schedule type:" in its infotext): the label it writes, then the
 * other spellings it accepts, also as suffixes of old combined sampler names ("DPM++ 2M Karras"). Both
 * sampling modes read names through here: diffusers mode to map them onto schedulers, a1111 mode to
 * build the σ schedule.
 */
export const A1111_SCHEDULE_TYPES = [
  ['Automatic', 'automatic'],
  ['Uniform', 'uniform'],
  ['Karras', 'karras'],
  ['Exponential', 'exponential'],
  ['Polyexponential', 'polyexponential'],
  ['SGM Uniform', 'sgm_uniform', 'SGMUniform'],
  ['KL Optimal', 'kl_optimal'],
  ['Align Your Steps', 'align_your_steps'],
  ['Simple', 'simple'],
  ['Normal', 'normal'],
  ['DDIM', 'ddim'],
  ['Beta', 'beta'],
] as const;

/** A schedule type by the label A1111 writes. */
export type A1111ScheduleType = (typeof A1111_SCHEDULE_TYPES)[number][0];

/** The label of a schedule type written in any of A1111's spellings (case-insensitive), or undefined. */
export function a1111ScheduleTypeOf(name: string): A1111ScheduleType | undefined {
  const folded = name.trim().toLowerCase();
  return A1111_SCHEDULE_TYPES.find((spellings) => spellings.some((s) => s.toLowerCase() === folded))?.[0];
}

/**
 * A1111's suffix split of a combined name ("DPM++ 2M SDE Karras" → "DPM++ 2M SDE", "Karras"), as its
 * `get_sampler_and_scheduler` does; `[name, undefined]` when no schedule type ends it.
 */
export function splitCombinedSampler(name: string): [base: string, schedule: A1111ScheduleType | undefined] {
  const folded = name.toLowerCase();
  for (const spellings of A1111_SCHEDULE_TYPES) {
    for (const spelling of spellings) {
      if (folded.endsWith(` ${spelling.toLowerCase()}`)) return [name.slice(0, -spelling.length - 1), spellings[0]];
    }
  }
  return [name, undefined];
}
