/**
 * What the loader assumes when a model leaves something out (model_index.json, a tokenizer, a
 * scheduler config), and the short lines that tell people so: the page shows them next to the
 * model, the CLI prints them to stderr.
 */
import type { RawSchedulerConfig } from '../schedulers/scheduler.ts';
import { DEFAULT_SCHEDULERS, type DefaultScheduler } from './default-scheduler-configs.ts';

/** Settings a model is meant to run with when its files cannot say so (turbo: 1 step, no CFG). */
export interface SuggestedSettings {
  steps: number;
  cfgScale: number;
}

/** Families as load-model.ts names them (kept apart to avoid an import cycle). */
type Family = 'sd1' | 'sd2' | 'sdxl';

const FAMILY_NAMES: Record<Family, string> = { sd1: 'SD 1.x', sd2: 'SD 2.x', sdxl: 'SDXL' };

/** `<|endoftext|>`, the pad of SD 1.x and SDXL's first tokenizer. */
export const EOS_PAD_ID = 49407;
/** `!`, the pad of OpenCLIP tokenizers: SD 2.x, SD-Turbo, SDXL's second. */
export const BANG_PAD_ID = 0;

/** Whether a model's name marks a distilled one-step model (SD-Turbo, SDXL-Turbo): "turbo" anywhere in its label, any case. */
export function isTurboName(label: string): boolean {
  return /turbo/i.test(label);
}

/** The pad id for a text encoder whose tokenizer config is missing, and why. */
export interface AssumedPad {
  padId: number;
  /** e.g. "SD 2.x: text encoder hidden size 1024". */
  why: string;
}

/**
 * The pad a text encoder needs, from what the model shows: SDXL's second encoder and SD 2.x
 * (hidden size 1024) pad with `!`; SD 1.x (768) and SDXL's first with `<|endoftext|>`. Other sizes
 * (small test models) follow the name: "turbo" means SD-Turbo (an SD 2.1 model), else SD 1.x.
 */
export function assumedPad(options: {
  hiddenSize: number | undefined;
  isSecond: boolean;
  isXl: boolean;
  isTurbo: boolean;
}): AssumedPad {
  const { hiddenSize, isSecond, isXl, isTurbo } = options;
  if (isSecond) return { padId: BANG_PAD_ID, why: "SDXL's second text encoder" };
  if (isXl) return { padId: EOS_PAD_ID, why: "SDXL's first text encoder" };
  if (hiddenSize === 1024) return { padId: BANG_PAD_ID, why: 'SD 2.x: text encoder hidden size 1024' };
  if (hiddenSize === 768) return { padId: EOS_PAD_ID, why: 'SD 1.x: text encoder hidden size 768' };
  const size =
    hiddenSize === undefined ? 'an unknown text encoder hidden size' : `text encoder hidden size ${hiddenSize}`;
  return isTurbo
    ? { padId: BANG_PAD_ID, why: `SD-Turbo: "turbo" in the name; ${size} is neither 768 nor 1024` }
    : { padId: EOS_PAD_ID, why: `SD 1.x assumed: ${size} is neither 768 nor 1024` };
}

function padName(padId: number): string {
  return padId === BANG_PAD_ID ? "'!'" : padId === EOS_PAD_ID ? "'<|endoftext|>'" : `id ${padId}`;
}

/**
 * The line for a tokenizer folder the model lacks (`isBundled`), or whose config files naming the
 * pad token are missing.
 */
export function tokenizerLine(dir: string, isBundled: boolean, padId: number, why: string): string {
  return isBundled
    ? `no ${dir}: bundled CLIP tokenizer, padding with ${padName(padId)} (${why})`
    : `no ${dir} config: padding with ${padName(padId)} (${why})`;
}

/** The line for a model without model_index.json. */
export function layoutLine(components: readonly string[]): string {
  return `no model_index.json: layout inferred from ${components.map((c) => `${c}/`).join(', ')}`;
}

/** The scheduler a model without scheduler_config.json gets, its line, and the settings that go with it. */
export interface AssumedScheduler {
  config: RawSchedulerConfig;
  line: string;
  suggested: SuggestedSettings | undefined;
}

/**
 * The family's standard scheduler; for turbo models ancestral Euler with trailing spacing (one step
 * from t = 999, as the SD-Turbo and SDXL-Turbo cards and the web demos run them), 1 step and CFG 0.
 */
export function assumedScheduler(family: Family, isTurbo: boolean): AssumedScheduler {
  if (isTurbo) {
    const { config, description } = DEFAULT_SCHEDULERS.turbo;
    return {
      config,
      line: `no scheduler config: ${description} (${family === 'sdxl' ? 'SDXL-Turbo' : 'SD-Turbo'}); suggested 1 step, CFG 0`,
      suggested: { steps: 1, cfgScale: 0 },
    };
  }
  const chosen: DefaultScheduler = DEFAULT_SCHEDULERS[family];
  const caveat = chosen.caveat === undefined ? '' : `; ${chosen.caveat}`;
  return {
    config: chosen.config,
    line: `no scheduler config: ${chosen.description} (${FAMILY_NAMES[family]} standard${caveat})`,
    suggested: undefined,
  };
}
