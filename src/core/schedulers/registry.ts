/**
 * AUTOMATIC1111 sampler names and the diffusers 0.27.2 schedulers that stand in for them. Each sampler is
 * the scheduler class of its row built from the model's `scheduler_config.json` with the row's arguments
 * added (diffusers' `from_config(config, **arguments)`); keys a class does not take are ignored.
 */
import { SdError } from '../errors.ts';
import { DDIMScheduler } from './ddim.ts';
import { DDPMScheduler } from './ddpm.ts';
import { DEISMultistepScheduler } from './deis-multistep.ts';
import { DPMSolverMultistepScheduler } from './dpm-solver-multistep.ts';
import { DPMSolverSinglestepScheduler } from './dpm-solver-singlestep.ts';
import { EulerAncestralDiscreteScheduler } from './euler-ancestral-discrete.ts';
import { EulerDiscreteScheduler } from './euler-discrete.ts';
import { HeunDiscreteScheduler } from './heun-discrete.ts';
import { KDPM2AncestralDiscreteScheduler } from './kdpm2-ancestral-discrete.ts';
import { KDPM2DiscreteScheduler } from './kdpm2-discrete.ts';
import { LCMScheduler } from './lcm.ts';
import { LMSDiscreteScheduler } from './lms-discrete.ts';
import { PNDMScheduler } from './pndm.ts';
import type { RawSchedulerConfig, Scheduler } from './scheduler.ts';
import { SCHEDULE_VARIANTS } from './schedule-variants.ts';
import { UniPCMultistepScheduler } from './unipc-multistep.ts';

type SchedulerClass = new (config: RawSchedulerConfig, steps: number, overrides?: Record<string, unknown>) => Scheduler;

/** The scheduler classes, by diffusers class name (the `_class_name` of `scheduler_config.json`). */
const CLASSES: Readonly<Record<string, SchedulerClass>> = {
  EulerDiscreteScheduler,
  EulerAncestralDiscreteScheduler,
  HeunDiscreteScheduler,
  LMSDiscreteScheduler,
  KDPM2DiscreteScheduler,
  KDPM2AncestralDiscreteScheduler,
  DPMSolverMultistepScheduler,
  DPMSolverSinglestepScheduler,
  DDIMScheduler,
  PNDMScheduler,
  UniPCMultistepScheduler,
  DEISMultistepScheduler,
  DDPMScheduler,
  LCMScheduler,
};

/** One sampler: its A1111 name, the diffusers class, and the arguments added to the model's config. */
export interface SamplerEntry {
  readonly name: string;
  readonly className: string;
  readonly args: Readonly<Record<string, unknown>>;
}

const KARRAS = { use_karras_sigmas: true } as const;
const NOT_KARRAS = { use_karras_sigmas: false } as const;
const SDE = { algorithm_type: 'sde-dpmsolver++' } as const;

/**
 * The sampler table. Where A1111 offers a Karras variant, the plain name sets `use_karras_sigmas: false`
 * explicitly, so a model config that turns Karras sigmas on cannot change what "DPM++ 2M" means.
 */
export const SAMPLERS: readonly SamplerEntry[] = [
  { name: 'Euler', className: 'EulerDiscreteScheduler', args: {} },
  { name: 'Euler a', className: 'EulerAncestralDiscreteScheduler', args: {} },
  { name: 'Heun', className: 'HeunDiscreteScheduler', args: {} },
  { name: 'LMS', className: 'LMSDiscreteScheduler', args: NOT_KARRAS },
  { name: 'LMS Karras', className: 'LMSDiscreteScheduler', args: KARRAS },
  { name: 'DPM2', className: 'KDPM2DiscreteScheduler', args: NOT_KARRAS },
  { name: 'DPM2 Karras', className: 'KDPM2DiscreteScheduler', args: KARRAS },
  { name: 'DPM2 a', className: 'KDPM2AncestralDiscreteScheduler', args: NOT_KARRAS },
  { name: 'DPM2 a Karras', className: 'KDPM2AncestralDiscreteScheduler', args: KARRAS },
  { name: 'DPM++ 2M', className: 'DPMSolverMultistepScheduler', args: NOT_KARRAS },
  { name: 'DPM++ 2M Karras', className: 'DPMSolverMultistepScheduler', args: KARRAS },
  { name: 'DPM++ 2M SDE', className: 'DPMSolverMultistepScheduler', args: { ...SDE, ...NOT_KARRAS } },
  { name: 'DPM++ 2M SDE Karras', className: 'DPMSolverMultistepScheduler', args: { ...SDE, ...KARRAS } },
  { name: 'DPM++ SDE', className: 'DPMSolverSinglestepScheduler', args: NOT_KARRAS },
  { name: 'DPM++ SDE Karras', className: 'DPMSolverSinglestepScheduler', args: KARRAS },
  { name: 'DDIM', className: 'DDIMScheduler', args: {} },
  { name: 'PLMS', className: 'PNDMScheduler', args: {} },
  { name: 'UniPC', className: 'UniPCMultistepScheduler', args: {} },
  { name: 'DEIS', className: 'DEISMultistepScheduler', args: {} },
  { name: 'DDPM', className: 'DDPMScheduler', args: {} },
  { name: 'LCM', className: 'LCMScheduler', args: {} },
];

/** The A1111 sampler names, in A1111's menu order. */
export const SAMPLER_NAMES: readonly string[] = SAMPLERS.map((s) => s.name);

/** diffusers class names this project implements. */
export const SCHEDULER_CLASS_NAMES: readonly string[] = Object.keys(CLASSES);

/** Rows for the names of `SCHEDULE_VARIANTS` ("Euler Karras", "DPM++ 2M SGM Uniform"): base row plus arguments. */
const VARIANT_ROWS: readonly SamplerEntry[] = SCHEDULE_VARIANTS.flatMap((variant) =>
  variant.bases.map((base) => {
    const row = SAMPLERS.find((s) => s.name === base)!;
    return { name: `${base} ${variant.suffix}`, className: row.className, args: { ...row.args, ...variant.args } };
  }),
);

/**
 * Every name the registry runs: the table's, then the schedule variants' ("Euler Karras", "Euler SGM
 * Uniform", …), which restoring an A1111 infotext in diffusers mode produces, so a menu must offer them.
 */
export const ALL_SAMPLER_NAMES: readonly string[] = [...SAMPLER_NAMES, ...VARIANT_ROWS.map((r) => r.name)];

/**
 * The table row for a sampler name: the exact name, or failing that the one name equal to it ignoring case
 * (so "euler a" finds "Euler a"). Names of `SCHEDULE_VARIANTS` ("Euler SGM Uniform") are found too.
 * @throws SdError 'unknown-sampler' listing the valid names
 */
export function findSampler(name: string): SamplerEntry {
  const rows = [...SAMPLERS, ...VARIANT_ROWS];
  const exact = rows.find((s) => s.name === name);
  if (exact) return exact;
  const folded = name.trim().toLowerCase();
  const loose = rows.find((s) => s.name.toLowerCase() === folded);
  if (loose) return loose;
  throw new SdError('unknown-sampler', `Unknown sampler "${name}". Expected one of: ${SAMPLER_NAMES.join(', ')}.`);
}

/** Whether a sampler name selects Karras sigmas ("DPM++ 2M Karras"). */
export function isKarrasSampler(name: string): boolean {
  return findSampler(name).args['use_karras_sigmas'] === true;
}

/**
 * A1111 (1.9+) infotext splits "DPM++ 2M Karras" into `Sampler: DPM++ 2M` and `Schedule type: Karras`;
 * samplers without a Karras variant get schedule type "Automatic".
 */
export function splitSamplerName(name: string): { sampler: string; scheduleType: 'Karras' | 'Automatic' } {
  const entry = findSampler(name);
  return entry.args['use_karras_sigmas'] === true
    ? { sampler: entry.name.replace(/ Karras$/, ''), scheduleType: 'Karras' }
    : { sampler: entry.name, scheduleType: 'Automatic' };
}

export interface CreateSchedulerOptions {
  /** The model's `scheduler/scheduler_config.json`. */
  config: RawSchedulerConfig;
  /** An A1111 sampler name, or null for the class the model's config names (`_class_name`). */
  sampler: string | null;
  /** Inference steps: a whole number >= 1. */
  steps: number;
}

/**
 * The diffusers class a `scheduler_config.json` names (`_class_name`), or "unknown" when it names none:
 * what the page shows as the model's scheduler and the infotext records when no sampler is picked.
 */
export function schedulerClassName(config: RawSchedulerConfig): string {
  return String(config['_class_name'] ?? 'unknown');
}

/**
 * Builds the scheduler for a sampler name (or the model's own scheduler) and step count.
 * @throws SdError 'bad-argument' for a step count that is not a whole number >= 1,
 *   'unknown-sampler' for an unknown name, 'unsupported-model' for a config class this project lacks
 */
export function createScheduler({ config, sampler, steps }: CreateSchedulerOptions): Scheduler {
  if (!Number.isInteger(steps) || steps < 1) {
    throw new SdError('bad-argument', `Bad step count ${steps}: steps must be a whole number of at least 1.`);
  }
  if (sampler !== null) {
    const entry = findSampler(sampler);
    return new (CLASSES[entry.className] as SchedulerClass)(config, steps, entry.args);
  }
  const className = config['_class_name'];
  const cls = typeof className === 'string' ? CLASSES[className] : undefined;
  if (!cls) {
    throw new SdError(
      'unsupported-model',
      `The model's scheduler_config.json names scheduler class "${String(className)}", which is not supported. Supported: ${SCHEDULER_CLASS_NAMES.join(', ')}. Pick a sampler by name instead.`,
    );
  }
  return new cls(config, steps);
}
