import { missingInfotextMessage, readImageMetadata } from '../core/png/image-metadata.ts';
import { parseInfotext } from '../core/png/infotext.ts';
import type { ShareSettings } from './share-link.ts';

/** What a dropped PNG restores: the settings it names, and the infotext keys the page cannot use. */
export interface RestoredSettings {
  settings: Partial<ShareSettings>;
  ignored: string[];
  /** Sentences about values that were not restored (a sampler not reproducible here, a bad number). */
  problems: string[];
}

/**
 * The page settings of an AUTOMATIC1111 `parameters` text (ours or A1111's). The model is not
 * restored (infotext names a checkpoint, not where to download it), so it is reported as ignored.
 */
export function settingsFromInfotext(text: string): RestoredSettings {
  const { params, ignored, problems } = parseInfotext(text);
  const settings: Partial<ShareSettings> = {};
  if (params.prompt !== undefined) settings.prompt = params.prompt;
  if (params.negativePrompt !== undefined) settings.negativePrompt = params.negativePrompt;
  if (params.sampler !== undefined) settings.sampler = params.sampler;
  if (params.steps !== undefined) settings.steps = params.steps;
  if (params.cfgScale !== undefined) settings.cfgScale = params.cfgScale;
  if (params.seed !== undefined) settings.seed = params.seed.toString();
  if (params.width !== undefined) settings.width = params.width;
  if (params.height !== undefined) settings.height = params.height;
  if (params.denoisingStrength !== undefined) settings.denoisingStrength = params.denoisingStrength;
  if (params.rng !== undefined) settings.rng = params.rng === 'CPU' ? 'cpu' : 'gpu';
  const skipped = [...ignored];
  if (params.model !== undefined) skipped.push(`Model (${params.model}: pick the model yourself)`);
  return { settings, ignored: skipped, problems };
}

/** Reads the `parameters` text of a PNG file's bytes; undefined when it has none. */
export function infotextOfPng(bytes: Uint8Array): string | undefined {
  return readImageMetadata(bytes).parameters;
}

/**
 * The A1111 infotext of a PNG, JPEG or WebP file's bytes, or why there is none (a ComfyUI workflow, or
 * no metadata), as a sentence naming the file.
 */
export function infotextOfImage(bytes: Uint8Array, name: string): { text: string } | { missing: string } {
  const meta = readImageMetadata(bytes);
  return meta.parameters === undefined ? { missing: missingInfotextMessage(name, meta) } : { text: meta.parameters };
}
