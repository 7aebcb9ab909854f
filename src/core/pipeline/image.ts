/** Conversions between 8-bit RGB images and the float tensors the VAE works on. */
import { lanczosResize } from '../preprocess/lanczos-resize.ts';

/** Rounds half to even, as numpy's `round` does. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * A float in [0, 1] → one 8-bit level, as diffusers' `numpy_to_pil`: clamp, times 255 in float32, then
 * numpy's round (half to even). NaN gives 0.
 */
export function unitToByte(v: number): number {
  const clamped = v > 0 ? (v < 1 ? v : 1) : 0;
  return roundHalfEven(Math.fround(clamped * 255));
}

/**
 * A VAE output value → one 8-bit level as A1111 saves it: `clamp((x + 1) / 2, 0, 1)`, times 255, then
 * numpy's `astype(uint8)`, which truncates. All in float32; NaN gives 0.
 */
export function a1111UnitToByte(x: number): number {
  const v = Math.fround(Math.fround(x + 1) / 2);
  const clamped = v > 0 ? (v < 1 ? v : 1) : 0;
  return Math.trunc(Math.fround(255 * clamped));
}

/**
 * VAE output → 8-bit RGB. `round` (default), as diffusers' image processor: `x / 2 + 0.5` in float32,
 * clamped to [0, 1], then `unitToByte`; `truncate`, as A1111: `a1111UnitToByte`.
 * @param chw Float32Array [3, H, W] (first image of the batch), nominally in [-1, 1]
 * @returns Uint8Array [H, W, 3]
 */
export function vaeOutputToRgb(
  chw: Float32Array,
  width: number,
  height: number,
  rounding: 'round' | 'truncate' = 'round',
): Uint8Array {
  const plane = width * height;
  const out = new Uint8Array(plane * 3);
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < plane; i++) {
      const x = chw[c * plane + i] as number;
      out[i * 3 + c] = rounding === 'truncate' ? a1111UnitToByte(x) : unitToByte(Math.fround(Math.fround(x / 2) + 0.5));
    }
  }
  return out;
}

/**
 * 8-bit RGB → VAE input in [-1, 1], as diffusers' image processor (`x / 255 * 2 - 1`).
 * @param rgb Uint8Array [H, W, 3]
 * @returns Float32Array [1, 3, H, W]
 */
export function rgbToVaeInput(rgb: Uint8Array, width: number, height: number): Float32Array {
  const plane = width * height;
  const out = new Float32Array(plane * 3);
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) {
      out[c * plane + i] = Math.fround(2 * Math.fround((rgb[i * 3 + c] as number) / 255)) - 1;
    }
  }
  return out;
}

/**
 * Resizes an 8-bit RGB image as diffusers' image processor does (Pillow's LANCZOS, bit for bit), for an
 * init image or a control image whose size differs from the generation size. The same size returns
 * the pixels as they are.
 */
export function resizeRgb(
  rgb: Uint8Array,
  width: number,
  height: number,
  toWidth: number,
  toHeight: number,
): Uint8Array {
  if (width === toWidth && height === toHeight) return rgb;
  return lanczosResize(rgb, width, height, toWidth, toHeight, 3);
}

/**
 * A quick preview of latents without the VAE: a fixed linear map from the 4 SD latent channels to
 * RGB (the widely used approximation for SD 1.x/2.x latents), at 1/8 of the image size.
 * @param latents Float32Array [1, 4, h, w]
 */
export function latentPreview(latents: Float32Array, w: number, h: number): Uint8Array {
  const factors = [
    [0.298, 0.207, 0.208],
    [0.187, 0.286, 0.173],
    [-0.158, 0.189, 0.264],
    [-0.184, -0.271, -0.473],
  ] as const;
  const plane = w * h;
  const out = new Uint8Array(plane * 3);
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) {
      let v = 0;
      for (let k = 0; k < 4; k++) v += (latents[k * plane + i] as number) * (factors[k] as readonly number[])[c]!;
      out[i * 3 + c] = Math.max(0, Math.min(255, Math.round((v + 1) * 127.5)));
    }
  }
  return out;
}
