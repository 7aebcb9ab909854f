/**
 * Share links: every generation parameter in the page's query string, so a copied URL reproduces
 * the settings. The query has its own short names (see {@link QUERY_NAMES}); the settings use the
 * request's names. Values the page cannot use are reported and replaced by defaults, never guessed.
 * Nothing read from a link is ever rendered as HTML; it only reaches text nodes and form values.
 */
import type { GenerateRequest, SamplingMode } from '../core/pipeline/request.ts';
import {
  type ControlNetSettings,
  defaultControlNet,
  parsePreprocessorSpec,
  PREPROCESSOR_SPEC_HELP,
  preprocessorSpec,
  WEIGHT_RANGE,
} from './controlnet-unit.ts';

/** Generation settings as the page edits them; fields named as in the core's `GenerateRequest`. */
export interface ShareSettings {
  /**
   * Hugging Face repository id (`org/name[/subfolder][@revision]`), http(s) URL of a diffusers
   * ONNX folder, or a path on this site (`/models/x`, `./x`, `../x`).
   */
  model: string;
  prompt: string;
  negativePrompt: string;
  /**
   * AUTOMATIC1111 sampler name; null for the model's own scheduler (diffusers mode) or Euler a (a1111 mode).
   * In a1111 mode it may carry a schedule type ("DPM++ 2M Karras").
   */
  sampler: string | null;
  steps: number;
  cfgScale: number;
  /** Decimal seed 0..2^64-1, or "-1" for a new random seed on every run (A1111's convention). */
  seed: string;
  /** Image size in pixels (multiples of 8); null until chosen: then the model family's natural size. */
  width: number | null;
  height: number | null;
  /** img2img strength in (0, 1]; used only with an init image. */
  denoisingStrength: number;
  /** Number of images; image i uses seed + i. */
  batchSize: number;
  /** Starting-noise generator: torch CPU (diffusers) or A1111's GPU Philox. */
  rng: GenerateRequest['rng'];
  /** diffusers' schedulers, or AUTOMATIC1111's own k-diffusion sampling (which regenerates its images). */
  sampling: SamplingMode;
  /** a1111 mode: A1111's "Eta noise seed delta" (ENSD); 0 for none. */
  etaNoiseSeedDelta: number;
  /** ControlNet Unit 0, without its control image (the visitor's own); see {@link CONTROLNET_QUERY_NAMES}. */
  controlNet: ControlNetSettings;
}

/**
 * The query parameter of each setting: the link format's own short names, the one place they are
 * mapped (old links keep working). Problem lines and the page's messages name settings this way.
 */
export const QUERY_NAMES = {
  model: 'model',
  prompt: 'prompt',
  negativePrompt: 'negative',
  sampler: 'sampler',
  steps: 'steps',
  cfgScale: 'cfg',
  seed: 'seed',
  width: 'width',
  height: 'height',
  denoisingStrength: 'strength',
  batchSize: 'batch',
  rng: 'rng',
  sampling: 'sampling',
  etaNoiseSeedDelta: 'ensd',
  controlNet: 'cn',
} as const satisfies Record<keyof ShareSettings, string>;

/**
 * The query parameters of ControlNet Unit 0, written only while it is enabled with a model: `cn` names
 * the stored ControlNet (and turns the unit on), `cn_pre` is the worker's preprocessor spec
 * (`none`, `invert`, `canny:LOW:HIGH`).
 */
export const CONTROLNET_QUERY_NAMES = {
  model: QUERY_NAMES.controlNet,
  preprocessor: 'cn_pre',
  weight: 'cn_weight',
  start: 'cn_start',
  end: 'cn_end',
} as const;

/** The query names of the settings `s` gives, in its order: how the page names them to people. */
export function queryNamesOf(s: Partial<ShareSettings>): string[] {
  return (Object.keys(s) as Array<keyof ShareSettings>).map((name) => QUERY_NAMES[name]);
}

export const DEFAULT_SETTINGS: ShareSettings = {
  model: 'schmuell/sd-turbo-ort-web',
  prompt: '',
  negativePrompt: '',
  sampler: null,
  steps: 20,
  cfgScale: 7,
  seed: '-1',
  width: null,
  height: null,
  denoisingStrength: 0.75,
  batchSize: 1,
  rng: 'cpu',
  sampling: 'diffusers',
  etaNoiseSeedDelta: 0,
  controlNet: defaultControlNet(),
};

export const MAX_SIDE = 4096;
export const MAX_BATCH = 64;
const MAX_SEED = 0xffffffffffffffffn;

/** Settings read from a query string, and one line per value that was ignored. */
export interface ParsedShareQuery {
  settings: ShareSettings;
  /** The settings the link gave with a usable value; the others are defaults. */
  given: ReadonlySet<keyof ShareSettings>;
  problems: string[];
}

/**
 * `org/name`, optional `/sub/folder`s, optional `@revision`: the repository ids that the core's
 * `parseModelSource` accepts (its own copy: the page does not load core code).
 */
const HUB_ID = /^[A-Za-z0-9][\w.-]*\/[\w.-]+(?:\/[\w.-]+)*\/?(?:@.+)?$/;
/** An absolute http(s) URL with a host. */
const HTTP_URL = /^https?:\/\/[^/\s?#]+/i;
/** A path the worker resolves against the site's own address. */
const SITE_PATH = /^\.{0,2}\//;
/** `local:NAME`: a folder the user opened from their disk, by its name (the core's form too). */
const LOCAL_REF = /^local:([^/\\]+)$/;

/**
 * Whether `text` can name a model: a Hugging Face repository id, an http(s) URL, a path on this
 * site, or `local:NAME`. Anything else (`javascript:…`, `file:…`, a bare word) is refused before it
 * reaches a fetch.
 */
export function isModelReference(text: string): boolean {
  const value = text.trim();
  if (HTTP_URL.test(value) || SITE_PATH.test(value) || LOCAL_REF.test(value)) return true;
  return HUB_ID.test(value) && !value.includes('..');
}

/**
 * The folder name of a `local:NAME` model, else undefined. A link carries only this name, never
 * the folder's files: it opens where the browser kept a copy of the folder, and elsewhere the page
 * asks for the folder.
 */
export function localModelName(model: string): string | undefined {
  return LOCAL_REF.exec(model.trim())?.[1];
}

/**
 * Checks a sampler name against the names the worker knows for the sampling mode (its
 * `samplerNames({ sampling })`). An unknown name is replaced by null, the mode's default (the model's own
 * scheduler in diffusers mode, Euler a in a1111 mode), with a problem line naming the choices.
 */
export function checkSampler(
  sampler: string | null,
  known: readonly string[],
  sampling: SamplingMode = 'diffusers',
): { sampler: string | null; problem?: string } {
  if (sampler === null || known.includes(sampler)) return { sampler };
  const problem =
    sampling === 'a1111'
      ? `sampler=${sampler} ignored: a1111 sampling runs the ${known.length} names of the Sampler list (a k-diffusion sampler, optionally with a schedule type, e.g. DPM++ 2M Karras), or none for Euler a. Using Euler a.`
      : `sampler=${sampler} ignored: expected one of ${known.join(', ')}, or none for the model's own scheduler. Using the model's own scheduler.`;
  return { sampler: null, problem };
}

type NumberRule = { min: number; max: number; isInteger: boolean; multipleOf?: number };

function parseNumber(name: string, text: string, rule: NumberRule, problems: string[]): number | undefined {
  const value = Number(text);
  const ok =
    text.trim() !== '' &&
    Number.isFinite(value) &&
    value >= rule.min &&
    value <= rule.max &&
    (!rule.isInteger || Number.isInteger(value)) &&
    (rule.multipleOf === undefined || value % rule.multipleOf === 0);
  if (ok) return value;
  const kind = rule.isInteger ? 'a whole number' : 'a number';
  const multiple = rule.multipleOf ? `, a multiple of ${rule.multipleOf}` : '';
  problems.push(`${name}=${text} ignored: expected ${kind} from ${rule.min} to ${rule.max}${multiple}.`);
  return undefined;
}

function parseSeedText(text: string, problems: string[]): string | undefined {
  const t = text.trim();
  if (t === '-1') return t;
  if (/^\d+$/.test(t) && BigInt(t) <= MAX_SEED) return BigInt(t).toString();
  problems.push(`seed=${text} ignored: expected a whole number from 0 to ${MAX_SEED}, or -1 for random.`);
  return undefined;
}

/**
 * Reads settings from a query string (`?model=...&prompt=...`); unknown parameters are left alone.
 * The sampler is not checked here: the names come from the worker, see {@link checkSampler}.
 */
export function parseShareQuery(search: string): ParsedShareQuery {
  const q = new URLSearchParams(search);
  const s: ShareSettings = { ...DEFAULT_SETTINGS, controlNet: defaultControlNet() };
  const given = new Set<keyof ShareSettings>();
  const problems: string[] = [];
  const text = (name: keyof ShareSettings): string | undefined => q.get(QUERY_NAMES[name]) ?? undefined;
  const use = <K extends keyof ShareSettings>(name: K, value: ShareSettings[K] | undefined): void => {
    if (value === undefined) return;
    s[name] = value;
    given.add(name);
  };
  const model = text('model')?.trim();
  if (model && isModelReference(model)) use('model', model);
  else if (model) {
    problems.push(
      `model=${model} ignored: not a Hugging Face repository id (org/name, org/name@revision, org/name/subfolder) or an http(s) URL. Using ${DEFAULT_SETTINGS.model}.`,
    );
  }
  use('prompt', text('prompt'));
  use('negativePrompt', text('negativePrompt'));
  const sampler = text('sampler')?.trim();
  if (sampler !== undefined) use('sampler', sampler === '' ? null : sampler);
  const num = (name: keyof ShareSettings, rule: NumberRule): number | undefined => {
    const t = text(name);
    return t === undefined ? undefined : parseNumber(QUERY_NAMES[name], t, rule, problems);
  };
  use('steps', num('steps', { min: 1, max: 1000, isInteger: true }));
  use('cfgScale', num('cfgScale', { min: 0, max: 100, isInteger: false }));
  use('width', num('width', { min: 8, max: MAX_SIDE, isInteger: true, multipleOf: 8 }));
  use('height', num('height', { min: 8, max: MAX_SIDE, isInteger: true, multipleOf: 8 }));
  use('denoisingStrength', num('denoisingStrength', { min: 0.01, max: 1, isInteger: false }));
  use('batchSize', num('batchSize', { min: 1, max: MAX_BATCH, isInteger: true }));
  const seed = text('seed');
  if (seed !== undefined) use('seed', parseSeedText(seed, problems));
  const rng = text('rng')?.toLowerCase();
  if (rng === 'cpu' || rng === 'gpu') use('rng', rng);
  else if (rng !== undefined) problems.push(`rng=${rng} ignored: expected cpu or gpu.`);
  const sampling = text('sampling')?.trim().toLowerCase();
  if (sampling === 'diffusers' || sampling === 'a1111') use('sampling', sampling);
  else if (sampling !== undefined)
    problems.push(`sampling=${sampling} ignored: expected diffusers or a1111. Using ${DEFAULT_SETTINGS.sampling}.`);
  use('etaNoiseSeedDelta', num('etaNoiseSeedDelta', { min: 0, max: Number.MAX_SAFE_INTEGER, isInteger: true }));
  use('controlNet', parseControlNetQuery(q, problems));
  return { settings: s, given, problems };
}

/**
 * ControlNet Unit 0 from the `cn*` parameters, undefined when the link has none. `cn` turns the unit on;
 * an unusable value is reported and its default kept (a start not before the end: both defaults).
 */
function parseControlNetQuery(q: URLSearchParams, problems: string[]): ControlNetSettings | undefined {
  const names = CONTROLNET_QUERY_NAMES;
  if (!Object.values(names).some((name) => q.has(name))) return undefined;
  const unit = defaultControlNet();
  const model = q.get(names.model)?.trim();
  if (model) {
    unit.isEnabled = true;
    unit.model = model;
  } else if (model !== undefined) problems.push(`${names.model}= ignored: expected the name of a stored ControlNet.`);
  const pre = q.get(names.preprocessor);
  if (pre !== null) {
    const choice = parsePreprocessorSpec(pre);
    if (choice) Object.assign(unit, choice);
    else problems.push(`${names.preprocessor}=${pre} ignored: expected ${PREPROCESSOR_SPEC_HELP}. Using none.`);
  }
  const num = (name: string, rule: NumberRule): number | undefined => {
    const t = q.get(name);
    return t === null ? undefined : parseNumber(name, t, rule, problems);
  };
  unit.weight = num(names.weight, { min: WEIGHT_RANGE.min, max: WEIGHT_RANGE.max, isInteger: false }) ?? unit.weight;
  const start = num(names.start, { min: 0, max: 1, isInteger: false });
  const end = num(names.end, { min: 0, max: 1, isInteger: false });
  if (start !== undefined && end !== undefined && start >= end) {
    problems.push(
      `${names.start}=${start} and ${names.end}=${end} ignored: the start must come before the end (0 ≤ start < end ≤ 1). Using 0 and 1.`,
    );
  } else {
    if (start !== undefined && start < unit.end) unit.start = start;
    else if (start !== undefined) problems.push(`${names.start}=${start} ignored: expected a number below 1. Using 0.`);
    if (end !== undefined && end > unit.start) unit.end = end;
    else if (end !== undefined) problems.push(`${names.end}=${end} ignored: expected a number above 0. Using 1.`);
  }
  return unit;
}

/** Writes ControlNet Unit 0 into `q` while it is enabled with a model; off, it leaves no `cn*` parameter. */
function formatControlNetQuery(unit: ControlNetSettings, q: URLSearchParams): void {
  if (!unit.isEnabled || unit.model === null) return;
  const names = CONTROLNET_QUERY_NAMES;
  q.set(names.model, unit.model);
  q.set(names.preprocessor, preprocessorSpec(unit));
  q.set(names.weight, String(unit.weight));
  q.set(names.start, String(unit.start));
  q.set(names.end, String(unit.end));
}

/**
 * The query string (without "?") that reproduces `s`; sizes still unset, the default RNG and
 * sampling mode, an ENSD of 0 and a ControlNet unit that is off or has no model are left out. Parameters of `current` (the page's query) that are not settings (e.g. `hf_endpoint`)
 * are kept.
 */
export function formatShareQuery(s: ShareSettings, current = ''): string {
  const q = new URLSearchParams(current);
  for (const name of [...Object.values(QUERY_NAMES), ...Object.values(CONTROLNET_QUERY_NAMES)]) q.delete(name);
  const set = (name: keyof ShareSettings, value: string): void => q.set(QUERY_NAMES[name], value);
  set('model', s.model);
  set('prompt', s.prompt);
  set('negativePrompt', s.negativePrompt);
  if (s.sampler !== null) set('sampler', s.sampler);
  set('steps', String(s.steps));
  set('cfgScale', String(s.cfgScale));
  set('seed', s.seed);
  if (s.width !== null) set('width', String(s.width));
  if (s.height !== null) set('height', String(s.height));
  set('denoisingStrength', String(s.denoisingStrength));
  set('batchSize', String(s.batchSize));
  if (s.rng !== 'cpu') set('rng', s.rng);
  if (s.sampling !== DEFAULT_SETTINGS.sampling) set('sampling', s.sampling);
  if (s.etaNoiseSeedDelta !== 0) set('etaNoiseSeedDelta', String(s.etaNoiseSeedDelta));
  formatControlNetQuery(s.controlNet, q);
  return q.toString();
}
