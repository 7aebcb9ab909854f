import type { ControlUnit } from '../src/core/pipeline/request.ts';
import { controlNetInfotextUnit, type ControlNetInfotextUnit } from '../src/core/png/infotext-controlnet.ts';
import { encodePng } from '../src/core/png/png.ts';
import { parsePreprocessor } from '../src/core/preprocess/preprocessor.ts';
import type { ControlNetUnitOptions, ControlPreview, InitImageFile } from './api.ts';
import { decodeInitImage } from './decode-image.ts';

/**
 * The core's ControlNet units of a job: each unit's image decoded and run through its preprocessor
 * (a spec that names none is refused with the preprocessor's message, before any model loads).
 * Weight, start and end pass as given: the core's request validation names a bad one
 * ("ControlNet 0 weight 12 is not allowed: …").
 */
export async function controlUnitsOf(units: readonly ControlNetUnitOptions[]): Promise<ControlUnit[]> {
  const preprocessors = units.map((u) => parsePreprocessor(u.preprocessor));
  const out: ControlUnit[] = [];
  for (const [i, unit] of units.entries()) {
    const image = await preprocessors[i]!.run(await decodeInitImage(unit.image, `ControlNet ${i} image`));
    out.push({ image, weight: unit.weight, start: unit.start, end: unit.end });
  }
  return out;
}

/** The control image a preprocessor makes of `image`, as a PNG (the ControlNet panel's preview). */
export async function controlPreview(options: { image: InitImageFile; preprocessor: string }): Promise<ControlPreview> {
  const preprocessor = parsePreprocessor(options.preprocessor);
  const { rgb, width, height } = await preprocessor.run(await decodeInitImage(options.image, 'control image'));
  return { png: encodePng(rgb, width, height), width, height };
}

/** The units as the images' infotext records them (`ControlNet 0: "Module: canny, Model: NAME, …"`). */
export function controlInfotextUnits(units: readonly ControlNetUnitOptions[]): ControlNetInfotextUnit[] {
  return units.map((u) => controlNetInfotextUnit(u.model, u.preprocessor, u.weight, u.start, u.end));
}
