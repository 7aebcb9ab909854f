// A1111's "parameters" infotext: written as create_infotext in modules/processing.py does, read as
// parse_generation_parameters in modules/infotext_utils.py does (including 1.9's split of the sampler
// name into "Sampler" and "Schedule type").
import { A1111_SCHEDULE_TYPES } from '../schedulers/a1111-schedule-types.ts';
import { samplerFromInfotext } from '../schedulers/a1111-samplers.ts';
import { splitInfotext } from './infotext-split.ts';

/** Generation parameters as A1111 records them. Sampler names are our combined A1111 names. */
export interface InfotextParams {
  prompt: string;
  negativePrompt: string;
  steps: number;
  /** Combined A1111 name, e.g. "DPM++ 2M Karras" or "Euler a". */
  sampler: string;
  cfgScale: number;
  seed: bigint;
  /** Image size in pixels. */
  width: number;
  height: number;
  model?: string;
  modelHash?: string;
  /** Noise source; A1111 leaves the key out for its default, GPU. */
  rng?: 'CPU' | 'GPU' | 'NV';
  /** img2img strength, 0..1. */
  denoisingStrength?: number;
  /** Written only for batches of two or more, as A1111 did. */
  batchSize?: number;
  /** 0-based index within the batch. */
  batchPos?: number;
  version?: string;
  /** Further `key: value` pairs, written after the known ones and before Version. */
  extra?: Record<string, string>;
}

/** What `parseInfotext` found: the parameters we use, and what it could not use. */
export interface ParsedInfotext {
  params: Partial<InfotextParams>;
  /** Keys present that were not restored; their values are in `params.extra`. */
  ignored: string[];
  /** One sentence for each value that could not be used (a bad number, a sampler not reproducible here). */
  problems: string[];
}

/** A1111's schedule labels that can follow a sampler name in the old combined form ("LMS Karras"). */
const SCHEDULE_SUFFIXES = A1111_SCHEDULE_TYPES.map((s) => s[0]).filter((l) => l !== 'Automatic' && l !== 'Uniform');

/**
 * Samplers whose "Automatic" schedule in A1111 1.9+ is not the plain one (Karras or Exponential). For
 * these the plain combined name is written as "Schedule type: Uniform" so A1111 reproduces it.
 */
const NON_UNIFORM_DEFAULTS = new Set([
  'DPM++ 2M',
  'DPM++ SDE',
  'DPM++ 2M SDE',
  'DPM++ 2S a',
  'DPM++ 3M SDE',
  'DPM2',
  'DPM2 a',
]);

const SIZE_PATTERN = /^(\d+)x(\d+)$/;
const INTEGER_PATTERN = /^[+-]?\d+$/;
const DECIMAL_PATTERN = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** A1111's `quote`: JSON-encode values that would otherwise break the comma-separated line. */
function quote(value: string): string {
  return /[,\n:]/.test(value) ? JSON.stringify(value) : value;
}

/** Splits a combined name ("DPM++ 2M Karras") into A1111 1.9+'s sampler and schedule type. */
function splitSampler(combined: string): [sampler: string, scheduleType: string] {
  for (const label of SCHEDULE_SUFFIXES) {
    if (combined.endsWith(` ${label}`)) return [combined.slice(0, -label.length - 1), label];
  }
  return [combined, NON_UNIFORM_DEFAULTS.has(combined) ? 'Uniform' : 'Automatic'];
}

/**
 * Formats parameters exactly as A1111 writes them: the prompt, a "Negative prompt:" line when there is
 * one, then one line of `Key: value` pairs in A1111's order.
 */
export function formatInfotext(p: InfotextParams): string {
  const [sampler, scheduleType] = splitSampler(p.sampler);
  const pairs = new Map<string, string | undefined>([
    ['Steps', String(p.steps)],
    ['Sampler', sampler],
    ['Schedule type', scheduleType],
    ['CFG scale', String(p.cfgScale)],
    ['Seed', String(p.seed)],
    ['Size', `${p.width}x${p.height}`],
    ['Model hash', p.modelHash],
    ['Model', p.model],
    ['Batch size', p.batchSize !== undefined && p.batchSize >= 2 ? String(p.batchSize) : undefined],
    ['Batch pos', p.batchSize !== undefined && p.batchSize >= 2 ? String(p.batchPos ?? 0) : undefined],
    ['Denoising strength', p.denoisingStrength === undefined ? undefined : String(p.denoisingStrength)],
    ['RNG', p.rng === 'GPU' ? undefined : p.rng],
  ]);
  // Like Python's dict update: an extra key that is already known replaces the value in place.
  for (const [key, value] of Object.entries(p.extra ?? {})) pairs.set(key, value);
  pairs.set('Version', p.version);
  const line = [...pairs]
    .filter((pair): pair is [string, string] => pair[1] !== undefined)
    .map(([key, value]) => (key === value ? key : `${key}: ${quote(value)}`))
    .join(', ');
  const negative = p.negativePrompt ? `\nNegative prompt: ${p.negativePrompt}` : '';
  return `${p.prompt}${negative}\n${line}`.trim();
}

/** What a value must look like, when it does not. */
type FieldReader = (params: Partial<InfotextParams>, value: string) => string | undefined;

function wholeNumber(value: string): number | undefined {
  const n = Number(value);
  return INTEGER_PATTERN.test(value) && Number.isSafeInteger(n) ? n : undefined;
}

function decimal(value: string): number | undefined {
  return DECIMAL_PATTERN.test(value) ? Number(value) : undefined;
}

/** Reads a number with `parse` and stores it, or returns what was expected. */
function numberField(
  parse: (v: string) => number | undefined,
  expected: string,
  store: (p: Partial<InfotextParams>, n: number) => void,
): FieldReader {
  return (p, v) => {
    const n = parse(v);
    if (n === undefined) return expected;
    store(p, n);
    return undefined;
  };
}

/** How each key we use is read; keys missing here are reported as ignored. */
const FIELD_READERS: Record<string, FieldReader> = {
  Steps: numberField(wholeNumber, 'a whole number', (p, n) => (p.steps = n)),
  'CFG scale': numberField(decimal, 'a number', (p, n) => (p.cfgScale = n)),
  Seed: (p, v) => {
    if (!/^\d+$/.test(v) || BigInt(v) >= 2n ** 64n) return 'a seed (a whole number from 0 to 2^64-1)';
    p.seed = BigInt(v);
    return undefined;
  },
  Size: (p, v) => {
    const m = SIZE_PATTERN.exec(v);
    const width = m ? wholeNumber(m[1]!) : undefined;
    const height = m ? wholeNumber(m[2]!) : undefined;
    if (width === undefined || height === undefined) return 'a size like 512x768';
    p.width = width;
    p.height = height;
    return undefined;
  },
  'Model hash': (p, v) => void (p.modelHash = v),
  Model: (p, v) => void (p.model = v),
  'Denoising strength': numberField(decimal, 'a number', (p, n) => (p.denoisingStrength = n)),
  'Batch size': numberField(wholeNumber, 'a whole number', (p, n) => (p.batchSize = n)),
  'Batch pos': numberField(wholeNumber, 'a whole number', (p, n) => (p.batchPos = n)),
  Version: (p, v) => void (p.version = v),
  RNG: (p, v) => {
    if (v !== 'CPU' && v !== 'GPU' && v !== 'NV') return 'one of CPU, GPU, NV';
    p.rng = v;
    return undefined;
  },
};

/**
 * Reads A1111's infotext as its `parse_generation_parameters` splits it (see infotext-split.ts): the prompt
 * lines, an optional "Negative prompt:" section (which may span lines) and a last line of `Key: value`
 * pairs (with at least three pairs; otherwise it is part of the prompt). The sampler is mapped onto ours
 * by `samplerFromInfotext` (both forms: "DPM++ 2M Karras", or "Sampler: DPM++ 2M, Schedule type: Karras").
 * As in A1111, a missing RNG means GPU. Keys we do not use are listed in `ignored` and kept in
 * `params.extra`; a value we cannot use (a number that does not parse, a sampler that cannot be
 * reproduced) is kept there too and explained in `problems`. Never throws.
 */
export function parseInfotext(text: string): ParsedInfotext {
  const parts = splitInfotext(text);
  const params: Partial<InfotextParams> = { prompt: parts.prompt, negativePrompt: parts.negativePrompt };
  const ignored: string[] = [];
  const problems: string[] = [];
  // A Map, so that even a key such as "__proto__" is kept as data.
  const extra = new Map<string, string>();
  const skip = (key: string, value: string): void => {
    ignored.push(key);
    extra.set(key, value);
  };

  for (const [key, value] of parts.pairs) {
    if (key === 'Sampler' || key === 'Schedule type') continue;
    // Own keys only, so names like "constructor" are not mistaken for readers.
    const reader = Object.hasOwn(FIELD_READERS, key) ? FIELD_READERS[key]! : undefined;
    const expected = reader?.(params, value);
    if (reader === undefined) skip(key, value);
    else if (expected !== undefined) {
      skip(key, value);
      problems.push(`Infotext "${key}: ${value}" is not ${expected}, so it was not restored.`);
    }
  }
  const sampler = parts.pairs.get('Sampler');
  const scheduleType = parts.pairs.get('Schedule type');
  if (sampler !== undefined) {
    const restored = samplerFromInfotext(sampler, scheduleType);
    if (restored.isReproducible) params.sampler = restored.sampler;
    else {
      skip('Sampler', sampler);
      if (scheduleType !== undefined) skip('Schedule type', scheduleType);
      problems.push(restored.message);
    }
  } else if (scheduleType !== undefined) skip('Schedule type', scheduleType);
  for (const [key, value] of parts.templates) skip(key, value);

  if (parts.hasSettings && params.rng === undefined && !extra.has('RNG')) params.rng = 'GPU';
  if (extra.size > 0) params.extra = Object.fromEntries(extra);
  return { params, ignored, problems };
}
