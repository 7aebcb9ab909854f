/**
 * Share links: every generation parameter in the page's query string, so a copied URL reproduces
 * the settings. Names: model, prompt, negative, sampler, steps, cfg, seed, width, height, strength,
 * batch, rng. Values the page cannot use are reported and replaced by defaults, never guessed.
 */

/** Generation settings as the page edits them. */
export interface ShareSettings {
  /** Hugging Face repository id (`org/name[@revision]`) or URL of a diffusers ONNX folder. */
  model: string;
  prompt: string;
  negative: string;
  /** AUTOMATIC1111 sampler name; null for the model's own scheduler. */
  sampler: string | null;
  steps: number;
  cfg: number;
  /** Decimal seed 0..2^64-1, or "-1" for a new random seed on every run (A1111's convention). */
  seed: string;
  /** Image size in pixels (multiples of 8); null until chosen: then the model family's natural size. */
  width: number | null;
  height: number | null;
  /** img2img strength in (0, 1]; used only with an init image. */
  strength: number;
  /** Number of images; image i uses seed + i. */
  batch: number;
  /** Starting-noise generator: torch CPU (diffusers) or A1111's GPU Philox. */
  rng: 'cpu' | 'gpu';
}

export const DEFAULT_SETTINGS: ShareSettings = {
  model: 'schmuell/sd-turbo-ort-web',
  prompt: '',
  negative: '',
  sampler: null,
  steps: 20,
  cfg: 7,
  seed: '-1',
  width: null,
  height: null,
  strength: 0.75,
  batch: 1,
  rng: 'cpu',
};

export const MAX_SIDE = 4096;
export const MAX_BATCH = 64;
const MAX_SEED = 0xffffffffffffffffn;

/** Settings read from a query string, and one line per value that was ignored. */
export interface ParsedShareQuery {
  settings: ShareSettings;
  problems: string[];
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

/** Reads settings from a query string (`?model=...&prompt=...`); unknown parameters are left alone. */
export function parseShareQuery(search: string): ParsedShareQuery {
  const q = new URLSearchParams(search);
  const s: ShareSettings = { ...DEFAULT_SETTINGS };
  const problems: string[] = [];
  const text = (name: string): string | undefined => q.get(name) ?? undefined;
  s.model = text('model')?.trim() || s.model;
  s.prompt = text('prompt') ?? s.prompt;
  s.negative = text('negative') ?? s.negative;
  const sampler = text('sampler')?.trim();
  s.sampler = sampler ? sampler : null;
  const num = (name: string, rule: NumberRule): number | undefined => {
    const t = text(name);
    return t === undefined ? undefined : parseNumber(name, t, rule, problems);
  };
  s.steps = num('steps', { min: 1, max: 1000, isInteger: true }) ?? s.steps;
  s.cfg = num('cfg', { min: 0, max: 100, isInteger: false }) ?? s.cfg;
  s.width = num('width', { min: 8, max: MAX_SIDE, isInteger: true, multipleOf: 8 }) ?? s.width;
  s.height = num('height', { min: 8, max: MAX_SIDE, isInteger: true, multipleOf: 8 }) ?? s.height;
  s.strength = num('strength', { min: 0.01, max: 1, isInteger: false }) ?? s.strength;
  s.batch = num('batch', { min: 1, max: MAX_BATCH, isInteger: true }) ?? s.batch;
  const seed = text('seed');
  if (seed !== undefined) s.seed = parseSeedText(seed, problems) ?? s.seed;
  const rng = text('rng')?.toLowerCase();
  if (rng === 'cpu' || rng === 'gpu') s.rng = rng;
  else if (rng !== undefined) problems.push(`rng=${rng} ignored: expected cpu or gpu.`);
  return { settings: s, problems };
}

/** Parameters this module owns; others in the query (e.g. `hf_endpoint`) are kept as they are. */
const OWN_PARAMETERS = ['model', 'prompt', 'negative', 'sampler', 'steps', 'cfg', 'seed', 'width', 'height', 'strength', 'batch', 'rng'];

/**
 * The query string (without "?") that reproduces `s`; sizes still unset and the default RNG are
 * left out. Parameters of `current` (the page's query) that are not settings are kept.
 */
export function formatShareQuery(s: ShareSettings, current = ''): string {
  const q = new URLSearchParams(current);
  for (const name of OWN_PARAMETERS) q.delete(name);
  q.set('model', s.model);
  q.set('prompt', s.prompt);
  q.set('negative', s.negative);
  if (s.sampler !== null) q.set('sampler', s.sampler);
  q.set('steps', String(s.steps));
  q.set('cfg', String(s.cfg));
  q.set('seed', s.seed);
  if (s.width !== null) q.set('width', String(s.width));
  if (s.height !== null) q.set('height', String(s.height));
  q.set('strength', String(s.strength));
  q.set('batch', String(s.batch));
  if (s.rng !== 'cpu') q.set('rng', s.rng);
  return q.toString();
}
