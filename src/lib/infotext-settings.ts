import { missingInfotextMessage, readImageMetadata } from '../core/png/image-metadata.ts';
import { parseInfotext } from '../core/png/infotext.ts';
import { controlNetUnitsOfInfotext, preprocessorSpecOf } from '../core/png/infotext-controlnet.ts';
import { SAMPLING_TEXT_KEY, samplingOfInfotext } from '../core/png/infotext-sampling.ts';
import { splitInfotext } from '../core/png/infotext-split.ts';
import { readPngText } from '../core/png/png.ts';
import { type ControlNetSettings, defaultControlNet, parsePreprocessorSpec, WEIGHT_RANGE } from './controlnet-unit.ts';
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
/** The keys of A1111's ControlNet extension, any version (`ControlNet 0`, `ControlNet`, `ControlNet-1 Model`), with the unit. */
const CONTROLNET_KEY = /^ControlNet(?:[- ](\d+))?(?: .+)?$/;
/** The page's ControlNet units: A1111's Unit 0 only, for now. */
const PAGE_UNITS = 1;

/** A restored ControlNet unit, or why the infotext's unit is not restored. */
interface RestoredControlNets {
  unit?: ControlNetSettings;
  /** Units not restored, as `ignored` entries with the reason. */
  skipped: string[];
  problems: string[];
}

/**
 * The page's ControlNet Unit 0 from A1111's `ControlNet N` keys (see `controlNetUnitsOfInfotext`), enabled,
 * without the image (the user's). A unit whose module has no preprocessor here (depth, openpose, …), past the
 * page's units, or with values the page cannot take is not restored; a model `storedNames` lacks is restored
 * with a sentence saying to add it.
 */
function controlNetsOfInfotext(text: string, storedNames?: readonly string[]): RestoredControlNets {
  const { units, problems } = controlNetUnitsOfInfotext(text);
  const skipped: string[] = [];
  let restored: ControlNetSettings | undefined;
  for (const unit of units) {
    const key = `ControlNet ${unit.index}`;
    const spec = preprocessorSpecOf(unit);
    const choice = spec === undefined ? undefined : parsePreprocessorSpec(spec);
    if (unit.index >= PAGE_UNITS) skipped.push(`${key} (the page has ${PAGE_UNITS} ControlNet unit)`);
    else if (choice === undefined)
      skipped.push(`${key} (preprocessor ${spec ?? unit.module} is not available here: none, canny and invert are)`);
    else if (unit.weight > WEIGHT_RANGE.max)
      skipped.push(`${key} (Weight ${unit.weight}: the page takes ${WEIGHT_RANGE.min} to ${WEIGHT_RANGE.max})`);
    else {
      const isWhole = unit.start < unit.end;
      if (!isWhole)
        problems.push(
          `${key}: Guidance Start ${unit.start} is not before Guidance End ${unit.end}, so 0 and 1 are used.`,
        );
      // A1111 writes "None" for a unit without a model
      const model = unit.model === 'None' || unit.model.trim() === '' ? null : unit.model;
      restored = {
        ...defaultControlNet(),
        ...choice,
        isEnabled: true,
        model,
        weight: unit.weight,
        ...(isWhole ? { start: unit.start, end: unit.end } : {}),
      };
      if (model !== null && storedNames !== undefined && !storedNames.includes(model))
        problems.push(
          `The ControlNet ${model} is not stored in this browser: add it in the ControlNet panel (the file ${model}.safetensors, or a folder named ${model}).`,
        );
    }
  }
  return { ...(restored ? { unit: restored } : {}), skipped, problems };
}

/**
 * The page settings of an AUTOMATIC1111 `parameters` text (ours or A1111's). The model is not
 * restored (infotext names a checkpoint, not where to download it), so it is reported as ignored.
 * A1111's `ControlNet 0` restores the ControlNet unit but its image (see `controlNetsOfInfotext`;
 * `controlNetNames`, the stored ControlNets, to say when its model is not one of them).
 * The sampling mode is the image's (see `samplingOfInfotext`): A1111's images regenerate in a1111 mode
 * with their A1111 sampler, schedule type and ENSD; ours in the mode their `Sampling` key or the PNG's
 * `sampling` chunk (`pngSampling`) names.
 */
export function settingsFromInfotext(
  text: string,
  pngSampling?: string,
  controlNetNames?: readonly string[],
): RestoredSettings {
  const { params, ignored: unused, problems } = parseInfotext(text);
  const controlNets = controlNetsOfInfotext(text, controlNetNames);
  // the ControlNet keys are reported once per unit, below
  const ignored = unused.filter((key) => !CONTROLNET_KEY.test(key));
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
  if (controlNets.unit) settings.controlNet = controlNets.unit;
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
  skipped.push(...controlNets.skipped);
  const kept = problems.filter((p) => !p.startsWith('Sampler '));
  return {
    settings,
    ignored: skipped,
    problems: [...(isA1111 ? [...kept, ...sampling.problems] : problems), ...controlNets.problems],
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
