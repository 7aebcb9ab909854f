/**
 * One ControlNet unit as the page edits it (A1111's "ControlNet Unit 0"): the stored ControlNet, the
 * preprocessor and its thresholds, Control Weight and Starting / Ending Control Step. The control image
 * is not part of it: it is the user's file, never carried by a link or a PNG.
 */
import { SdError } from '../core/errors.ts';
import type { ControlNetUnitOptions, InitImageFile } from '../../workers/api.ts';

/** The preprocessors the worker runs (A1111's module names). */
export const PREPROCESSORS = ['none', 'canny', 'invert'] as const;
export type PreprocessorKind = (typeof PREPROCESSORS)[number];

/** A ControlNet unit's settings, named as A1111's panel names them. */
export interface ControlNetSettings {
  /** The unit takes part in generations (A1111's "Enable"). */
  isEnabled: boolean;
  /** The stored ControlNet's name (A1111's "Model", without its hash); null until one is chosen. */
  model: string | null;
  preprocessor: PreprocessorKind;
  /** Canny's hysteresis thresholds on the L1 gradient (A1111's "Low Threshold" / "High Threshold"). */
  lowThreshold: number;
  highThreshold: number;
  /** A1111's Control Weight (`controlnet_conditioning_scale`). */
  weight: number;
  /** A1111's Starting / Ending Control Step: fractions of the steps, 0 ≤ start < end ≤ 1. */
  start: number;
  end: number;
}

/** Canny thresholds a unit accepts: A1111's slider range, whole numbers. */
export const THRESHOLD_RANGE = { min: 0, max: 255 } as const;
/** Control Weight: the slider goes to 2 as A1111's does; typed values up to 10 are allowed. */
export const WEIGHT_RANGE = { min: 0, max: 10, sliderMax: 2 } as const;

/** A fresh unit with A1111's defaults (canny 100 / 200, weight 1, the whole schedule), off. */
export function defaultControlNet(): ControlNetSettings {
  return {
    isEnabled: false,
    model: null,
    preprocessor: 'none',
    lowThreshold: 100,
    highThreshold: 200,
    weight: 1,
    start: 0,
    end: 1,
  };
}

/** The worker's preprocessor spec of a unit: `canny:LOW:HIGH`, `invert` or `none`. */
export function preprocessorSpec(
  unit: Pick<ControlNetSettings, 'preprocessor' | 'lowThreshold' | 'highThreshold'>,
): string {
  return unit.preprocessor === 'canny' ? `canny:${unit.lowThreshold}:${unit.highThreshold}` : unit.preprocessor;
}

/** What a preprocessor spec sets; Canny's thresholds only for `canny`. */
export type PreprocessorChoice = Pick<ControlNetSettings, 'preprocessor'> &
  Partial<Pick<ControlNetSettings, 'lowThreshold' | 'highThreshold'>>;

const isThreshold = (value: number): boolean =>
  Number.isInteger(value) && value >= THRESHOLD_RANGE.min && value <= THRESHOLD_RANGE.max;

/**
 * Reads a preprocessor spec (`none`, `invert`, `canny` with A1111's thresholds, `canny:LOW:HIGH`);
 * undefined for anything else or thresholds that are not whole numbers from 0 to 255.
 */
export function parsePreprocessorSpec(spec: string): PreprocessorChoice | undefined {
  const [name, ...params] = spec.trim().toLowerCase().split(':');
  if ((name === 'none' || name === 'invert') && params.length === 0) return { preprocessor: name };
  if (name !== 'canny') return undefined;
  if (params.length === 0) return { preprocessor: 'canny', lowThreshold: 100, highThreshold: 200 };
  if (params.length !== 2 || params.some((p) => p.trim() === '')) return undefined;
  const [low, high] = params.map(Number) as [number, number];
  if (!isThreshold(low) || !isThreshold(high)) return undefined;
  return { preprocessor: 'canny', lowThreshold: low, highThreshold: high };
}

/** The text a problem line shows for what a preprocessor spec may be. */
export const PREPROCESSOR_SPEC_HELP = `none, invert, or canny:LOW:HIGH with whole numbers from ${THRESHOLD_RANGE.min} to ${THRESHOLD_RANGE.max} (e.g. canny:100:200)`;

/**
 * Why an enabled unit cannot run (no model chosen, no control image, a start not before the end), as
 * one sentence naming the unit and what to do; undefined when it is off or ready.
 */
export function controlNetProblem(unit: ControlNetSettings, hasImage: boolean, index = 0): string | undefined {
  if (!unit.isEnabled) return undefined;
  const name = `ControlNet Unit ${index}`;
  const missing = [...(unit.model === null ? ['a ControlNet model'] : []), ...(hasImage ? [] : ['a control image'])];
  if (missing.length > 0)
    return `${name} is enabled but lacks ${missing.join(' and ')}: add ${missing.length > 1 ? 'them' : 'it'} in the ControlNet panel, or turn the unit off.`;
  if (!(unit.start < unit.end))
    return `${name}'s Starting Control Step ${unit.start} is not before its Ending Control Step ${unit.end}: the start must be smaller (e.g. 0 and 1).`;
  return undefined;
}

/**
 * The worker's ControlNet units of a job: the enabled ones, each with its own copy of its control image
 * (the worker takes the bytes). Throws SdError `bad-argument` saying what an enabled unit lacks.
 */
export function controlNetOptions(
  units: readonly ControlNetSettings[],
  images: ReadonlyArray<InitImageFile | null>,
): ControlNetUnitOptions[] {
  return units.flatMap((unit, index) => {
    const image = images[index] ?? null;
    const problem = controlNetProblem(unit, image !== null, index);
    if (problem !== undefined) throw new SdError('bad-argument', problem);
    if (!unit.isEnabled || unit.model === null || image === null) return [];
    return [
      {
        model: unit.model,
        image: { bytes: image.bytes.slice(), type: image.type },
        preprocessor: preprocessorSpec(unit),
        weight: unit.weight,
        start: unit.start,
        end: unit.end,
      },
    ];
  });
}
