/**
 * AUTOMATIC1111 1.10's k-diffusion samplers (modules/sd_samplers_kdiffusion.py) as this project runs them
 * in a1111 sampling mode: each name's algorithm, the schedule "Automatic" means for it, and DPM2's discarded
 * next-to-last σ. A1111 names may carry a schedule suffix ("DPM++ 2M Karras"), split as A1111's
 * `get_sampler_and_scheduler` does.
 */
import { SdError } from '../errors.ts';
import type { PredictionType, Scheduler } from '../schedulers/scheduler.ts';
import { CompVisSchedule } from './compvis-schedule.ts';
import { Dpm2Sampler } from './dpm2.ts';
import { Dpm2AncestralSampler } from './dpm2-ancestral.ts';
import { DpmPP2MSampler } from './dpmpp-2m.ts';
import { DpmPP2SAncestralSampler } from './dpmpp-2s-ancestral.ts';
import { EulerSampler } from './euler.ts';
import { EulerAncestralSampler } from './euler-ancestral.ts';
import { HeunSampler } from './heun.ts';
import type { KSampler, KSamplerOptions } from './k-sampler.ts';
import { LmsSampler } from './lms.ts';
import { a1111ScheduleTypeOf, splitCombinedSampler } from '../schedulers/a1111-schedule-types.ts';
import { SCHEDULE_TYPES, scheduleSigmas, type ScheduleType } from './schedule-types.ts';

interface KSamplerEntry {
  readonly name: string;
  readonly create: (options: KSamplerOptions) => KSampler;
  /** What "Automatic" means for it (A1111's `options.scheduler`, else Uniform = `get_sigmas`). */
  readonly automatic: ScheduleType;
  readonly discardNextToLastSigma?: boolean;
}

export const K_SAMPLERS: readonly KSamplerEntry[] = [
  { name: 'DPM++ 2M', create: (o) => new DpmPP2MSampler(o), automatic: 'Karras' },
  { name: 'DPM++ 2S a', create: (o) => new DpmPP2SAncestralSampler(o), automatic: 'Karras' },
  { name: 'Euler a', create: (o) => new EulerAncestralSampler(o), automatic: 'Uniform' },
  { name: 'Euler', create: (o) => new EulerSampler(o), automatic: 'Uniform' },
  { name: 'LMS', create: (o) => new LmsSampler(o), automatic: 'Uniform' },
  { name: 'Heun', create: (o) => new HeunSampler(o), automatic: 'Uniform' },
  { name: 'DPM2', create: (o) => new Dpm2Sampler(o), automatic: 'Karras', discardNextToLastSigma: true },
  {
    name: 'DPM2 a',
    create: (o) => new Dpm2AncestralSampler(o),
    automatic: 'Karras',
    discardNextToLastSigma: true,
  },
];

/** A1111 samplers a1111 mode refuses, with the reason. */
const REFUSED: Readonly<Record<string, string>> = {
  'DPM++ SDE':
    "its noise comes from torchsde's Brownian tree (A1111's BrownianTreeNoiseSampler), which is not reproduced here, so the image would not be exact",
  'DPM++ 2M SDE':
    "its noise comes from torchsde's Brownian tree (A1111's BrownianTreeNoiseSampler), which is not reproduced here, so the image would not be exact",
  'DPM++ 2M SDE Heun':
    "its noise comes from torchsde's Brownian tree (A1111's BrownianTreeNoiseSampler), which is not reproduced here, so the image would not be exact",
  'DPM++ 3M SDE':
    "its noise comes from torchsde's Brownian tree (A1111's BrownianTreeNoiseSampler), which is not reproduced here, so the image would not be exact",
  'DPM fast': 'the adaptive-order DPM-Solver is not ported',
  'DPM adaptive': 'the adaptive step size DPM-Solver is not ported',
  Restart: 'the Restart sampler is not ported',
  DDIM: "A1111 runs it as a CompVis timestep sampler, not a k-diffusion one; diffusers mode's DDIM is the port",
  'DDIM CFG++': 'the CFG++ variant of DDIM is not ported',
  PLMS: "A1111 runs it as a CompVis timestep sampler; diffusers mode's PLMS is the port",
  UniPC: "A1111 runs it as a CompVis timestep sampler; diffusers mode's UniPC is the port",
  LCM: "A1111 runs LCM outside k-diffusion's samplers; diffusers mode's LCM is the port",
};

/** A sampler name resolved for a1111 mode. */
export interface KSamplerChoice {
  /** A1111's sampler label, e.g. "DPM++ 2M". */
  sampler: string;
  /** The schedule type as written ("Automatic" kept). */
  scheduleType: ScheduleType;
  /** The schedule that runs ("Automatic" resolved to the sampler's default). */
  schedule: ScheduleType;
}

function names(): string {
  return K_SAMPLERS.map((s) => s.name).join(', ');
}

/**
 * The a1111-mode sampler for an A1111 sampler name (combined or plain) and an optional schedule type.
 * A schedule suffix in the name wins over `scheduleType`, as in A1111; without either, the plain name means
 * the Uniform schedule (A1111's combined names before 1.9, and what this project's infotext writes for it).
 * @throws SdError 'unknown-sampler' naming the sampler, why a1111 mode cannot run it, and what can
 */
export function resolveKSampler(name: string, scheduleType?: string): KSamplerChoice {
  const [base, suffix] = splitCombinedSampler(name.trim());
  const folded = base.trim().toLowerCase();
  const entry = K_SAMPLERS.find((s) => s.name.toLowerCase() === folded);
  if (!entry) {
    const refused = Object.keys(REFUSED).find((k) => k.toLowerCase() === folded);
    const why = refused
      ? `a1111 sampling cannot run "${refused}": ${REFUSED[refused]}`
      : `Unknown sampler "${name}" for a1111 sampling`;
    throw new SdError(
      'unknown-sampler',
      `${why}. Expected one of: ${names()} (with a schedule type), or use --sampling diffusers.`,
    );
  }
  const written = suffix ?? (scheduleType === undefined ? undefined : a1111ScheduleTypeOf(scheduleType));
  if (written === undefined && scheduleType !== undefined) {
    throw new SdError(
      'unknown-sampler',
      `Unknown schedule type "${scheduleType}". Expected one of: ${SCHEDULE_TYPES.join(', ')}.`,
    );
  }
  const type = written ?? 'Uniform';
  return { sampler: entry.name, scheduleType: type, schedule: type === 'Automatic' ? entry.automatic : type };
}

/**
 * The combined name that stands for a choice in this project's sampler strings (and infotext): the plain
 * name for Uniform, else "NAME SCHEDULE" ("DPM++ 2M Karras").
 */
export function combinedKSamplerName(choice: KSamplerChoice): string {
  return choice.schedule === 'Uniform' ? choice.sampler : `${choice.sampler} ${choice.schedule}`;
}

/** What a k-diffusion sampler run needs besides the name. */
export interface KSamplerRequest {
  /** An A1111 sampler name, possibly combined with a schedule type ("DPM++ 2M Karras"). */
  sampler: string;
  steps: number;
  predictionType: PredictionType;
  isSdxl: boolean;
  /** The model's σ levels (default: the LDM schedule every SD 1.x/2.x/SDXL checkpoint uses). */
  model?: CompVisSchedule;
}

/**
 * The σ sequence A1111's `get_sigmas` gives: the schedule for `steps` (one more for DPM2, whose
 * next-to-last σ is then dropped), ending in 0.
 */
export function kSamplerSigmas(choice: KSamplerChoice, steps: number, model: CompVisSchedule, isSdxl: boolean) {
  const entry = K_SAMPLERS.find((s) => s.name === choice.sampler)!;
  const discard = entry.discardNextToLastSigma === true;
  const sigmas = scheduleSigmas(choice.schedule, steps + (discard ? 1 : 0), { model, isSdxl });
  if (!discard) return sigmas;
  const out = new Float64Array(sigmas.length - 1);
  out.set(sigmas.subarray(0, sigmas.length - 2));
  out[out.length - 1] = sigmas[sigmas.length - 1] as number;
  return out;
}

/**
 * Builds the a1111-mode sampler for a request, as a Scheduler the pipeline's loops run.
 * @throws SdError 'bad-argument' for steps below 1, 'unknown-sampler' for a name a1111 mode cannot run
 */
export function createKSampler(r: KSamplerRequest): Scheduler {
  if (!Number.isInteger(r.steps) || r.steps < 1) {
    throw new SdError('bad-argument', `Bad step count ${r.steps}: steps must be a whole number of at least 1.`);
  }
  const choice = resolveKSampler(r.sampler);
  const model = r.model ?? new CompVisSchedule();
  const entry = K_SAMPLERS.find((s) => s.name === choice.sampler)!;
  const sigmas = kSamplerSigmas(choice, r.steps, model, r.isSdxl);
  return entry.create({ sigmas, model, predictionType: r.predictionType });
}

/**
 * Every sampler string a1111 mode runs, sampler by sampler: the plain name (Uniform) and then the name with
 * each other schedule type ("DPM++ 2M Karras"), as {@link combinedKSamplerName} writes them. "Automatic" is
 * left out: it stands for one of the others.
 */
export function kSamplerNames(): string[] {
  const schedules = SCHEDULE_TYPES.filter((s) => s !== 'Automatic' && s !== 'Uniform');
  return K_SAMPLERS.flatMap((s) => [s.name, ...schedules.map((schedule) => `${s.name} ${schedule}`)]);
}
