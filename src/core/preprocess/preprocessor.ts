import { SdError } from '../errors.ts';
import { canny } from './canny.ts';

/** An 8-bit RGB image, row-major [H, W, 3] (the pipeline's `RgbImage`). */
export interface RgbPixels {
  rgb: Uint8Array;
  width: number;
  height: number;
}

/**
 * A ControlNet preprocessor (A1111's "Preprocessor"/module): turns the user's image into the control
 * image. Asynchronous so that model-based ones (depth, pose) can run a network (onnxruntime-web,
 * `@huggingface/transformers`' depth-estimation pipeline) behind the same slot.
 */
export interface Preprocessor {
  /** A1111's module name with its settings, e.g. `canny:100:200`, `invert`, `none`. */
  readonly id: string;
  /** A1111's module name for the infotext (`canny`, `invert`, `none`). */
  readonly module: string;
  /** A1111's Threshold A / B (canny: low / high), for modules that have them. */
  readonly thresholds?: readonly [a: number, b: number];
  run(image: RgbPixels): Promise<RgbPixels>;
}

/** Single-channel bytes spread to RGB (A1111's HWC3). */
function grayToRgb(gray: Uint8Array, width: number, height: number): RgbPixels {
  const rgb = new Uint8Array(gray.length * 3);
  gray.forEach((v, i) => rgb.fill(v, i * 3, i * 3 + 3));
  return { rgb, width, height };
}

/** `cv2.Canny(rgb, low, high)` as A1111's "canny" module hands it on (A1111's defaults 100 / 200). */
export function cannyPreprocessor(low = 100, high = 200): Preprocessor {
  for (const [name, v] of [
    ['low', low],
    ['high', high],
  ] as const) {
    if (!Number.isFinite(v) || v < 0 || v > 1020)
      throw new SdError(
        'bad-argument',
        `Canny ${name} threshold ${v} is not allowed: use a number from 0 to 1020 (A1111: 100 / 200).`,
      );
  }
  return {
    id: `canny:${low}:${high}`,
    module: 'canny',
    thresholds: [low, high],
    run: ({ rgb, width, height }) => Promise.resolve(grayToRgb(canny(rgb, width, height, low, high), width, height)),
  };
}

/** A1111's "invert (from white bg & black line)": 255 − x. */
export const INVERT: Preprocessor = {
  id: 'invert',
  module: 'invert',
  run: ({ rgb, width, height }) => Promise.resolve({ rgb: rgb.map((v) => 255 - v), width, height }),
};

/** The image as it is. */
export const NONE: Preprocessor = { id: 'none', module: 'none', run: (image) => Promise.resolve(image) };

/**
 * A preprocessor from its spec: `canny[:LOW:HIGH]`, `invert` or `none`; anything else is refused
 * naming the ones there are.
 */
export function parsePreprocessor(spec: string): Preprocessor {
  const [name, ...params] = spec.trim().toLowerCase().split(':');
  if (name === 'none' && params.length === 0) return NONE;
  if (name === 'invert' && params.length === 0) return INVERT;
  if (name === 'canny' && (params.length === 0 || params.length === 2)) {
    const [low, high] = params.map((p) => (p.trim() === '' ? NaN : Number(p)));
    return params.length === 0 ? cannyPreprocessor() : cannyPreprocessor(low, high);
  }
  throw new SdError(
    'bad-argument',
    `Unknown preprocessor "${spec}". Expected one of: canny:LOW:HIGH (e.g. canny:100:200), canny, invert, none.`,
  );
}
