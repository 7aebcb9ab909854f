import { missingInfotextMessage, readImageMetadata } from '../core/png/image-metadata.ts';
import { parseInfotext } from '../core/png/infotext.ts';
import { SAMPLING_TEXT_KEY, samplingOfInfotext } from '../core/png/infotext-sampling.ts';
import { splitInfotext } from '../core/png/infotext-split.ts';
import { readPngText } from '../core/png/png.ts';
import type { ShareSettings } from './share-link.ts';

/** What a dropped PNG restores: the settings it names, and the infotext keys the page cannot use. */
export interface RestoredSettings {
  settings: Partial<ShareSettings>;
  ignored: string[];
  /** Sentences about values that were not restored (a sampler not reproducible here, a bad number). */
  problems: string[];
  /** Why the image's sampling mode (`settings.sampling`) was chosen, for the user. */
  samplingReason: string;
}

/** Infotext keys that a1111 mode reads where diffusers mode ignores them (`Sampling` decides the mode in both). */
const A1111_KEYS = new Set(['Sampler', 'Schedule type', 'ENSD']);

/**
 * The page settings of an AUTOMATIC1111 `parameters` text (ours or A1111's). The model is not
 * restored (infotext names a checkpoint, not where to download it), so it is reported as ignored.
 * The sampling mode is the image's (see `samplingOfInfotext`): A1111's images regenerate in a1111 mode
 * with their A1111 sampler, schedule type and ENSD; ours in the mode their `Sampling` key or the PNG's
 * `sampling` chunk (`pngSampling`) names.
 */
export function settingsFromInfotext(text: string, pngSampling?: string): RestoredSettings {
  const { params, ignored, problems } = parseInfotext(text);
  const sampling = samplingOfInfotext(text, pngSampling);
  const isA1111 = sampling.sampling === 'a1111';
  const settings: Partial<ShareSettings> = {};
  if (params.prompt !== undefined) settings.prompt = params.prompt;
  if (params.negativePrompt !== undefined) settings.negativePrompt = params.negativePrompt;
  settings.sampling = sampling.sampling;
  if (isA1111) {
    // a sampler a1111 mode cannot run falls back to its default (Euler a), reported in `problems`
    settings.sampler = sampling.sampler ?? null;
    settings.etaNoiseSeedDelta = sampling.etaNoiseSeedDelta ?? 0;
  } else if (params.sampler !== undefined) settings.sampler = params.sampler;
  if (params.steps !== undefined) settings.steps = params.steps;
  if (params.cfgScale !== undefined) settings.cfgScale = params.cfgScale;
  if (params.seed !== undefined) settings.seed = params.seed.toString();
  if (params.width !== undefined) settings.width = params.width;
  if (params.height !== undefined) settings.height = params.height;
  if (params.denoisingStrength !== undefined) settings.denoisingStrength = params.denoisingStrength;
  if (params.rng !== undefined) settings.rng = params.rng === 'CPU' ? 'cpu' : 'gpu';
  // the mode decides which sampler problems apply (diffusers' mapping, or what a1111 mode runs)
  const isUsed = (key: string): boolean =>
    key === 'Sampling' ||
    (isA1111 && (key === 'ENSD' ? sampling.etaNoiseSeedDelta !== undefined : sampling.sampler !== undefined));
  const skipped = ignored.filter((key) => !(A1111_KEYS.has(key) || key === 'Sampling') || !isUsed(key));
  if (isA1111 && sampling.sampler === undefined) {
    const { pairs } = splitInfotext(text);
    for (const key of ['Sampler', 'Schedule type']) if (pairs.has(key) && !skipped.includes(key)) skipped.push(key);
  }
  if (params.model !== undefined) skipped.push(`Model (${params.model}: pick the model yourself)`);
  const kept = problems.filter((p) => !p.startsWith('Sampler '));
  return {
    settings,
    ignored: skipped,
    problems: isA1111 ? [...kept, ...sampling.problems] : problems,
    samplingReason: sampling.reason,
  };
}

/** Reads the `parameters` text of a PNG file's bytes; undefined when it has none. */
export function infotextOfPng(bytes: Uint8Array): string | undefined {
  return readImageMetadata(bytes).parameters;
}

/**
 * The A1111 infotext of a PNG, JPEG or WebP file's bytes, with the PNG's `sampling` chunk (the mode this
 * project's images were made in), or why there is none (a ComfyUI workflow, or no metadata), as a sentence
 * naming the file.
 */
export function infotextOfImage(
  bytes: Uint8Array,
  name: string,
): { text: string; sampling?: string } | { missing: string } {
  const meta = readImageMetadata(bytes);
  if (meta.parameters === undefined) return { missing: missingInfotextMessage(name, meta) };
  const sampling = meta.format === 'png' ? readPngText(bytes)[SAMPLING_TEXT_KEY] : undefined;
  return sampling === undefined ? { text: meta.parameters } : { text: meta.parameters, sampling };
}
