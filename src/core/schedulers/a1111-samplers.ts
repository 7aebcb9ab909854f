/**
 * How an AUTOMATIC1111 infotext's `Sampler` and `Schedule type` map onto this project's sampler names, and
 * which of A1111's combinations diffusers (0.27.2, which the schedulers here port) cannot reproduce. A1111
 * 1.9+ writes the two keys apart ("Sampler: DPM++ 2M, Schedule type: Karras"); older versions wrote one
 * combined name ("DPM++ 2M Karras"), which A1111's `get_sampler_and_scheduler` still splits by suffix.
 */
import { A1111_SCHEDULE_TYPES, a1111ScheduleTypeOf, splitCombinedSampler } from './a1111-schedule-types.ts';
import { findSampler, SCHEDULER_CLASS_NAMES } from './registry.ts';

/** Why a schedule type has no counterpart here (those missing from every sampler's `ours`). */
const SCHEDULE_GAPS: Readonly<Record<string, string>> = {
  Exponential:
    'diffusers 0.27.2, which these schedulers port, has no exponential sigmas (use_exponential_sigmas came in diffusers 0.31 and is not ported)',
  Polyexponential: 'diffusers has no polyexponential sigmas',
  'KL Optimal': 'diffusers 0.27.2 has no KL-optimal schedule',
  'Align Your Steps': 'this project has no Align Your Steps timestep lists',
  Simple: 'diffusers has no "Simple" schedule (a ComfyUI schedule)',
  Normal: 'diffusers has no "Normal" schedule (a ComfyUI schedule)',
  DDIM: 'diffusers has no "DDIM" sigma schedule for k-diffusion samplers',
  Beta: 'diffusers 0.27.2 has no beta sigmas (use_beta_sigmas came later and is not ported)',
};

/** One A1111 sampler and what each schedule type becomes here. */
interface A1111Sampler {
  readonly name: string;
  /** The schedule "Automatic" means for this sampler in A1111 1.9+ (its `options.scheduler`). */
  readonly automatic: string;
  /** Our sampler name for each reproducible schedule type; a schedule missing here is not reproducible. */
  readonly ours: Readonly<Record<string, string>>;
  /** A1111 applies no schedule type to this sampler (its timestep samplers), so any schedule means `ours.Uniform`. */
  readonly ignoresSchedule?: boolean;
  /** Why the sampler itself cannot be reproduced (when `ours` is empty). */
  readonly gap?: string;
  /** The nearest sampler here, suggested when the combination is not reproducible. */
  readonly closest?: string;
}

const SGM = 'SGM Uniform';

/** The table: A1111 1.10's samplers (plus this project's own DEIS and DDPM) in A1111's menu order. */
const A1111_SAMPLERS: readonly A1111Sampler[] = [
  {
    name: 'DPM++ 2M',
    automatic: 'Karras',
    ours: { Uniform: 'DPM++ 2M', Karras: 'DPM++ 2M Karras', [SGM]: 'DPM++ 2M SGM Uniform' },
  },
  { name: 'DPM++ SDE', automatic: 'Karras', ours: { Uniform: 'DPM++ SDE', Karras: 'DPM++ SDE Karras' } },
  {
    name: 'DPM++ 2M SDE',
    automatic: 'Exponential',
    ours: { Uniform: 'DPM++ 2M SDE', Karras: 'DPM++ 2M SDE Karras', [SGM]: 'DPM++ 2M SDE SGM Uniform' },
    closest: 'DPM++ 2M SDE Karras',
  },
  {
    name: 'DPM++ 2M SDE Heun',
    automatic: 'Exponential',
    ours: {},
    gap: 'the Heun variant of the DPM++ 2M SDE solver is not ported here',
    closest: 'DPM++ 2M SDE Karras',
  },
  { name: 'DPM++ 2S a', automatic: 'Karras', ours: {}, gap: 'diffusers has no DPM++ 2S ancestral scheduler' },
  {
    name: 'DPM++ 3M SDE',
    automatic: 'Exponential',
    ours: {},
    gap: 'the third-order DPM++ SDE solver is not ported here',
    closest: 'DPM++ 2M SDE Karras',
  },
  {
    name: 'Euler a',
    automatic: 'Uniform',
    ours: { Uniform: 'Euler a', [SGM]: 'Euler a SGM Uniform' },
    closest: 'Euler a',
  },
  {
    name: 'Euler',
    automatic: 'Uniform',
    ours: { Uniform: 'Euler', Karras: 'Euler Karras', [SGM]: 'Euler SGM Uniform' },
  },
  { name: 'LMS', automatic: 'Uniform', ours: { Uniform: 'LMS', Karras: 'LMS Karras', [SGM]: 'LMS SGM Uniform' } },
  { name: 'Heun', automatic: 'Uniform', ours: { Uniform: 'Heun', Karras: 'Heun Karras', [SGM]: 'Heun SGM Uniform' } },
  { name: 'DPM2', automatic: 'Karras', ours: { Uniform: 'DPM2', Karras: 'DPM2 Karras', [SGM]: 'DPM2 SGM Uniform' } },
  {
    name: 'DPM2 a',
    automatic: 'Karras',
    ours: { Uniform: 'DPM2 a', Karras: 'DPM2 a Karras', [SGM]: 'DPM2 a SGM Uniform' },
  },
  {
    name: 'DPM fast',
    automatic: 'Uniform',
    ours: {},
    gap: 'diffusers has no DPM-Solver fast (adaptive order) scheduler',
  },
  {
    name: 'DPM adaptive',
    automatic: 'Uniform',
    ours: {},
    gap: 'diffusers has no adaptive step size DPM-Solver scheduler',
  },
  { name: 'Restart', automatic: 'Karras', ours: {}, gap: 'diffusers has no Restart sampler' },
  { name: 'DDIM', automatic: 'Uniform', ours: { Uniform: 'DDIM' }, ignoresSchedule: true },
  {
    name: 'DDIM CFG++',
    automatic: 'Uniform',
    ours: {},
    gap: 'diffusers has no CFG++ variant of DDIM',
    closest: 'DDIM',
  },
  { name: 'PLMS', automatic: 'Uniform', ours: { Uniform: 'PLMS' }, ignoresSchedule: true },
  { name: 'UniPC', automatic: 'Uniform', ours: { Uniform: 'UniPC' }, ignoresSchedule: true },
  { name: 'LCM', automatic: 'Uniform', ours: { Uniform: 'LCM' }, closest: 'LCM' },
  { name: 'DEIS', automatic: 'Uniform', ours: { Uniform: 'DEIS' }, ignoresSchedule: true },
  { name: 'DDPM', automatic: 'Uniform', ours: { Uniform: 'DDPM' }, ignoresSchedule: true },
];

/** What an infotext's sampler becomes here. */
export type SamplerRestore =
  | {
      isReproducible: true;
      /** Our sampler name (a registry name or a schedule variant such as "Euler SGM Uniform"). */
      sampler: string;
      /** The A1111 schedule type it stands for, after resolving "Automatic" and combined names. */
      scheduleType: string;
    }
  | {
      isReproducible: false;
      /** Names the sampler and schedule, why they cannot be reproduced, and what to pick instead. */
      message: string;
      /** The nearest sampler here, if any; it gives a different image. */
      closest?: string;
    };

function findA1111(name: string): A1111Sampler | undefined {
  const folded = name.trim().toLowerCase();
  return A1111_SAMPLERS.find((s) => s.name.toLowerCase() === folded);
}

function describe(sampler: string, scheduleType: string | undefined, resolved: string): string {
  if (scheduleType === undefined) return `"${sampler}"`;
  const automatic = scheduleType === 'Automatic' ? ` (${resolved} for this sampler in AUTOMATIC1111 1.9+)` : '';
  return `"${sampler}" with schedule type "${scheduleType}"${automatic}`;
}

function notReproducible(what: string, reason: string, closest: string | undefined): SamplerRestore {
  const advice = closest
    ? `The closest sampler here is "${closest}" (it gives a different image): pick it or another sampler yourself.`
    : "Pick a sampler yourself (or keep the model's default).";
  return {
    isReproducible: false,
    message: `Sampler ${what} cannot be reproduced here: ${reason}. ${advice}`,
    ...(closest ? { closest } : {}),
  };
}

/**
 * Our sampler for an infotext's `Sampler` and `Schedule type` values.
 * - A schedule type written apart (A1111 1.9+): "Automatic" is the sampler's A1111 default (Karras for
 *   DPM++ 2M, Exponential for DPM++ 2M SDE, Uniform for Euler), as A1111 itself reads it.
 * - No schedule type (A1111 before 1.9, SD.Next, Civitai): the sampler is an old combined name, whose plain
 *   form meant the uniform schedule ("DPM++ 2M" then ran without Karras sigmas).
 * - A schedule suffix in the sampler name wins over the schedule type key, as in A1111.
 * - DDIM, PLMS and UniPC take no schedule type in A1111, so any value means the plain sampler.
 * Combinations that diffusers cannot reproduce come back with a message naming them, the reason and the
 * closest choice, never a silent substitute.
 */
export function samplerFromInfotext(sampler: string, scheduleType?: string): SamplerRestore {
  const [base, suffix] = splitCombinedSampler(sampler.trim());
  const entry = findA1111(base) ?? (suffix === undefined ? undefined : findA1111(sampler));
  const written = suffix ?? (scheduleType === undefined ? 'Uniform' : a1111ScheduleTypeOf(scheduleType));
  if (!entry && SCHEDULER_CLASS_NAMES.includes(sampler.trim())) {
    const reason =
      "it names a diffusers scheduler class (the model's own scheduler when the image was made), not an AUTOMATIC1111 sampler";
    return notReproducible(`"${sampler}"`, reason, undefined);
  }
  if (!entry) {
    const known = A1111_SAMPLERS.map((s) => s.name).join(', ');
    return notReproducible(
      `"${sampler}"`,
      `it is not an AUTOMATIC1111 sampler this project knows (known: ${known})`,
      undefined,
    );
  }
  const what = describe(entry.name, suffix ?? scheduleType, entry.automatic);
  if (written === undefined) {
    const labels = A1111_SCHEDULE_TYPES.map((s) => s[0]).join(', ');
    return notReproducible(
      what,
      `the schedule type is not one of AUTOMATIC1111's (${labels})`,
      entry.closest ?? entry.ours['Uniform'],
    );
  }
  const schedule = entry.ignoresSchedule ? 'Uniform' : written === 'Automatic' ? entry.automatic : written;
  const ours = entry.ours[schedule];
  if (ours !== undefined) return { isReproducible: true, sampler: findSampler(ours).name, scheduleType: schedule };
  const reason =
    entry.gap ??
    SCHEDULE_GAPS[schedule] ??
    `diffusers 0.27.2 (ported here) cannot run ${entry.name} with the ${schedule} schedule`;
  return notReproducible(what, reason, entry.closest ?? entry.ours['Karras'] ?? entry.ours['Uniform']);
}
