// Which sampling mode regenerates an image, from its infotext: AUTOMATIC1111's own images are made with its
// k-diffusion samplers (a1111 mode); this project's say which mode made them.
import { SdError } from '../errors.ts';
import { combinedKSamplerName, resolveKSampler } from '../kdiffusion/k-samplers.ts';
import { splitInfotext } from './infotext-split.ts';

/** The PNG text chunk (besides "parameters") in which this project records the sampling mode of its images. */
export const SAMPLING_TEXT_KEY = 'sampling';

/** What an infotext says about sampling. */
export interface InfotextSampling {
  /** The mode that regenerates the image. */
  sampling: 'a1111' | 'diffusers';
  /** Why that mode was chosen, for the user. */
  reason: string;
  /** a1111 mode: the sampler as a combined name ("DPM++ 2M Karras"), when the infotext names one it can run. */
  sampler?: string;
  /** a1111 mode: A1111's `ENSD` (eta noise seed delta). */
  etaNoiseSeedDelta?: number;
  /** One sentence for a value a1111 mode cannot use (a sampler it cannot run, a bad ENSD). */
  problems: string[];
}

function modeOf(marker: string | undefined, version: string | undefined): [InfotextSampling['sampling'], string] {
  const written = marker?.trim().toLowerCase();
  if (written === 'a1111' || written === 'diffusers') return [written, `the image says "Sampling: ${written}"`];
  if (version === undefined) return ['a1111', 'the infotext has no Version (an AUTOMATIC1111 image)'];
  // A1111 writes v1.x.y; Forge f2.0.1v1.10.1-…
  if (/^(f[\w.]+)?v1\./.test(version)) return ['a1111', `the infotext comes from AUTOMATIC1111 ${version}`];
  return ['diffusers', `the infotext's Version "${version}" is not AUTOMATIC1111 1.x`];
}

/**
 * The sampling mode and a1111-mode settings of an infotext. The mode: the infotext's `Sampling` key (this
 * project's a1111-mode images), else the PNG's `sampling` text chunk (this project's images, `pngSampling`),
 * else a1111 for AUTOMATIC1111's images (`Version: v1…`, or no Version), else diffusers. Never throws.
 */
export function samplingOfInfotext(text: string, pngSampling?: string): InfotextSampling {
  const { pairs } = splitInfotext(text);
  const [sampling, reason] = modeOf(pairs.get('Sampling') ?? pngSampling, pairs.get('Version'));
  const result: InfotextSampling = { sampling, reason, problems: [] };
  const sampler = pairs.get('Sampler');
  if (sampler !== undefined) {
    try {
      result.sampler = combinedKSamplerName(resolveKSampler(sampler, pairs.get('Schedule type')));
    } catch (e) {
      if (!(e instanceof SdError)) throw e;
      result.problems.push(e.message);
    }
  }
  const ensd = pairs.get('ENSD');
  if (ensd !== undefined) {
    if (/^\d+$/.test(ensd.trim()) && Number.isSafeInteger(Number(ensd))) result.etaNoiseSeedDelta = Number(ensd);
    else result.problems.push(`Infotext "ENSD: ${ensd}" is not a whole number, so it was not restored.`);
  }
  return result;
}
