// What `cli info` prints for an infotext: every value A1111's parser finds, the ones it knows as typed
// fields, the rest under `other` exactly as written, and how this project would restore it.
import { splitInfotext } from './infotext-split.ts';
import { parseInfotext } from './infotext.ts';
import { loraTags, type LoraTag } from './lora-tags.ts';

/** An infotext as JSON-ready data. A field the text lacks (or whose value does not parse) is null. */
export interface InfotextReport {
  prompt: string;
  negativePrompt: string;
  steps: number | null;
  /** `Sampler` as written ("DPM++ 2M", or an old combined name such as "DPM++ 2M Karras"). */
  sampler: string | null;
  /** `Schedule type` as written (A1111 1.9+); null for older infotexts. */
  scheduleType: string | null;
  cfgScale: number | null;
  /** A number when it is a safe integer in JSON, else the decimal digits as a string. */
  seed: number | string | null;
  /** Image size in pixels, from `Size: WxH`. */
  width: number | null;
  height: number | null;
  denoisingStrength: number | null;
  /** As in A1111, a settings line without `Clip skip` means 1. */
  clipSkip: number | null;
  /** As in A1111, a settings line without `RNG` means GPU. */
  rng: string | null;
  /** `<lora:...>` tags of the prompt (they stay in `prompt`). */
  loras: LoraTag[];
  /** Every other key in the order written, values as written (quoted ones unquoted). */
  other: Record<string, string>;
  /** What restoring it here gives: our sampler name, and what would be ignored and why. */
  restore: { sampler: string | null; ignored: string[]; problems: string[] };
}

const INTEGER = /^[+-]?\d+$/;
const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const SIZE = /^(\d+)x(\d+)$/;

function integer(v: string | undefined): number | null {
  return v !== undefined && INTEGER.test(v) && Number.isSafeInteger(Number(v)) ? Number(v) : null;
}

function decimal(v: string | undefined): number | null {
  return v !== undefined && DECIMAL.test(v) ? Number(v) : null;
}

function seed(v: string | undefined): number | string | null {
  if (v === undefined || !/^\d+$/.test(v)) return null;
  return Number.isSafeInteger(Number(v)) ? Number(v) : v;
}

/**
 * Describes an infotext for `cli info`. Typed fields take their key out of `other` only when the value
 * parses, so nothing written is lost. Never throws.
 */
export function describeInfotext(text: string): InfotextReport {
  const parts = splitInfotext(text);
  const other = new Map([...parts.pairs, ...parts.templates]);
  /** The value of a typed field, taken out of `other` when `read` accepts it. */
  const take = <T>(key: string, read: (v: string | undefined) => T | null): T | null => {
    const value = read(other.get(key));
    if (value !== null) other.delete(key);
    return value;
  };
  const text_ = (v: string | undefined): string | null => v ?? null;
  const size = SIZE.exec(other.get('Size') ?? '');
  const width = integer(size?.[1]);
  const height = integer(size?.[2]);
  if (width !== null && height !== null) other.delete('Size');
  const restored = parseInfotext(text);
  return {
    prompt: parts.prompt,
    negativePrompt: parts.negativePrompt,
    steps: take('Steps', integer),
    sampler: take('Sampler', text_),
    scheduleType: take('Schedule type', text_),
    cfgScale: take('CFG scale', decimal),
    seed: take('Seed', seed),
    width: width !== null && height !== null ? width : null,
    height: width !== null && height !== null ? height : null,
    denoisingStrength: take('Denoising strength', decimal),
    clipSkip: take('Clip skip', integer) ?? (parts.hasSettings && !other.has('Clip skip') ? 1 : null),
    rng: take('RNG', text_) ?? (parts.hasSettings ? 'GPU' : null),
    loras: loraTags(parts.prompt),
    other: Object.fromEntries(other),
    restore: { sampler: restored.params.sampler ?? null, ignored: restored.ignored, problems: restored.problems },
  };
}
