// A1111's "parameters" infotext: written as create_infotext in modules/processing.py does, read as
// parse_generation_parameters in modules/infotext_utils.py does (including 1.9's split of the sampler
// name into "Sampler" and "Schedule type").
import { SdError } from '../errors.ts';

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

/** What `parseInfotext` found: the parameters we use, and the keys present that we do not use. */
export interface ParsedInfotext {
  params: Partial<InfotextParams>;
  ignored: string[];
}

/** A1111's schedule labels that can follow a sampler name in the old combined form ("LMS Karras"). */
const SCHEDULE_TYPES = [
  'Karras',
  'Exponential',
  'Polyexponential',
  'SGM Uniform',
  'KL Optimal',
  'Align Your Steps',
  'Simple',
  'Normal',
  'DDIM',
  'Beta',
];

/** Schedule types that mean the sampler's plain (uniform) sigmas, i.e. no suffix in the combined name. */
const PLAIN_SCHEDULES = new Set(['Automatic', 'Uniform']);

/**
 * Samplers whose "Automatic" schedule in A1111 1.9+ is not the plain one (Karras or Exponential). For
 * these the plain combined name is written as "Schedule type: Uniform" so A1111 reproduces it.
 */
const NON_UNIFORM_DEFAULTS = new Set(['DPM++ 2M', 'DPM++ SDE', 'DPM++ 2M SDE', 'DPM++ 2S a', 'DPM++ 3M SDE', 'DPM2', 'DPM2 a']);

/** One `key: value` pair of the last line; the value is either JSON-quoted or runs to the next comma. */
const PARAM_PATTERN = /\s*([\p{L}\p{N}_][\p{L}\p{N}_ \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)/gu;
const SIZE_PATTERN = /^(\d+)x(\d+)$/;
const INTEGER_PATTERN = /^[+-]?\d+$/;
const DECIMAL_PATTERN = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const NEGATIVE_PREFIX = 'Negative prompt:';
/** A last line with fewer pairs than this is part of the prompt, as in A1111. */
const MIN_PARAM_PAIRS = 3;

/** A1111's `quote`: JSON-encode values that would otherwise break the comma-separated line. */
function quote(value: string): string {
  return /[,\n:]/.test(value) ? JSON.stringify(value) : value;
}

function unquote(value: string): string {
  if (value.length < 2 || !value.startsWith('"') || !value.endsWith('"')) return value;
  try {
    return JSON.parse(value) as string;
  } catch {
    // A1111 keeps a value that only looks quoted as it is.
    return value;
  }
}

/** Splits a combined name ("DPM++ 2M Karras") into A1111 1.9+'s sampler and schedule type. */
function splitSampler(combined: string): [sampler: string, scheduleType: string] {
  for (const label of SCHEDULE_TYPES) {
    if (combined.endsWith(` ${label}`)) return [combined.slice(0, -label.length - 1), label];
  }
  return [combined, NON_UNIFORM_DEFAULTS.has(combined) ? 'Uniform' : 'Automatic'];
}

/** Joins A1111's sampler and schedule type back into one combined name. */
function joinSampler(sampler: string, scheduleType: string | undefined): string {
  if (scheduleType === undefined || PLAIN_SCHEDULES.has(scheduleType) || sampler.endsWith(` ${scheduleType}`)) {
    return sampler;
  }
  return `${sampler} ${scheduleType}`;
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
  const negative = p.negativePrompt ? `\n${NEGATIVE_PREFIX} ${p.negativePrompt}` : '';
  return `${p.prompt}${negative}\n${line}`.trim();
}

function badNumber(key: string, value: string, expected: string): SdError {
  return new SdError('bad-infotext', `Infotext "${key}: ${value}" is not ${expected}. Fix or remove that entry.`);
}

function parseInteger(key: string, value: string): number {
  const n = Number(value);
  if (!INTEGER_PATTERN.test(value) || !Number.isSafeInteger(n)) throw badNumber(key, value, 'a whole number');
  return n;
}

function parseDecimal(key: string, value: string): number {
  if (!DECIMAL_PATTERN.test(value)) throw badNumber(key, value, 'a number');
  return Number(value);
}

type FieldReader = (params: Partial<InfotextParams>, key: string, value: string) => void;

/** How each key we use is read; keys missing here are reported as ignored. */
const FIELD_READERS: Record<string, FieldReader> = {
  Steps: (p, k, v) => (p.steps = parseInteger(k, v)),
  'CFG scale': (p, k, v) => (p.cfgScale = parseDecimal(k, v)),
  Seed: (p, k, v) => {
    if (!/^\d+$/.test(v)) throw badNumber(k, v, 'a seed (a whole number from 0 to 2^64-1)');
    p.seed = BigInt(v);
  },
  Size: (p, k, v) => {
    const m = SIZE_PATTERN.exec(v);
    if (!m) throw badNumber(k, v, 'a size like 512x768');
    p.width = parseInteger(k, m[1]!);
    p.height = parseInteger(k, m[2]!);
  },
  'Model hash': (p, _k, v) => (p.modelHash = v),
  Model: (p, _k, v) => (p.model = v),
  'Denoising strength': (p, k, v) => (p.denoisingStrength = parseDecimal(k, v)),
  'Batch size': (p, k, v) => (p.batchSize = parseInteger(k, v)),
  'Batch pos': (p, k, v) => (p.batchPos = parseInteger(k, v)),
  Version: (p, _k, v) => (p.version = v),
};

/** Applies one `key: value` pair; returns false for keys (or RNG values) we do not use. */
function applyPair(params: Partial<InfotextParams>, key: string, value: string): boolean {
  if (key === 'RNG') {
    if (value !== 'CPU' && value !== 'GPU' && value !== 'NV') return false;
    params.rng = value;
    return true;
  }
  // Own keys only, so names like "constructor" are not mistaken for readers.
  if (!Object.hasOwn(FIELD_READERS, key)) return false;
  FIELD_READERS[key]!(params, key, value);
  return true;
}

/**
 * Reads A1111's infotext: the prompt lines, an optional "Negative prompt:" section (which may span lines)
 * and a last line of `Key: value` pairs (with at least three pairs; otherwise it is part of the prompt).
 * Both sampler forms are understood ("DPM++ 2M Karras", or "Sampler: DPM++ 2M, Schedule type: Karras").
 * As in A1111, a missing RNG means GPU. Keys we do not use are listed in `ignored` and kept in
 * `params.extra`.
 * @throws SdError 'bad-infotext' naming the key and value of a number that does not parse.
 */
export function parseInfotext(text: string): ParsedInfotext {
  const lines = text.replace(/\r\n?/g, '\n').trim().split('\n');
  let lastLine = lines.pop() ?? '';
  if ([...lastLine.matchAll(PARAM_PATTERN)].length < MIN_PARAM_PAIRS) {
    lines.push(lastLine);
    lastLine = '';
  }

  // As in A1111, a line joins with "\n" only onto text that is not empty so far.
  let prompt = '';
  let negativePrompt = '';
  let isNegative = false;
  for (const raw of lines) {
    let line = raw.trim();
    if (line.startsWith(NEGATIVE_PREFIX)) {
      isNegative = true;
      line = line.slice(NEGATIVE_PREFIX.length).trim();
    }
    if (isNegative) negativePrompt += (negativePrompt === '' ? '' : '\n') + line;
    else prompt += (prompt === '' ? '' : '\n') + line;
  }
  const params: Partial<InfotextParams> = { prompt, negativePrompt };
  const ignored: string[] = [];
  // A Map, so that even a key such as "__proto__" is kept as data.
  const extra = new Map<string, string>();
  let sampler: string | undefined;
  let scheduleType: string | undefined;

  for (const m of lastLine.matchAll(PARAM_PATTERN)) {
    const key = m[1]!;
    const value = unquote(m[2]!.trim());
    if (key === 'Sampler') sampler = value;
    else if (key === 'Schedule type') scheduleType = value;
    else if (!applyPair(params, key, value)) {
      ignored.push(key);
      extra.set(key, value);
    }
  }
  if (sampler !== undefined) params.sampler = joinSampler(sampler, scheduleType);
  else if (scheduleType !== undefined) {
    ignored.push('Schedule type');
    extra.set('Schedule type', scheduleType);
  }
  if (lastLine !== '' && params.rng === undefined && !extra.has('RNG')) params.rng = 'GPU';
  if (extra.size > 0) params.extra = Object.fromEntries(extra);
  return { params, ignored };
}
