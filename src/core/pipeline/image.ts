/** Conversions between 8-bit RGB images and the float tensors the VAE works on. */

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
 * Bilinear resize of an 8-bit RGB image (half-pixel centres). Used when an init image's size differs
 * from the requested one; diffusers would use PIL's Lanczos, so results then differ slightly from it.
 */
export function resizeRgb(
  rgb: Uint8Array,
  width: number,
  height: number,
  toWidth: number,
  toHeight: number,
): Uint8Array {
  if (width === toWidth && height === toHeight) return rgb;
  const out = new Uint8Array(toWidth * toHeight * 3);
  const sx = width / toWidth;
  const sy = height / toHeight;
  for (let y = 0; y < toHeight; y++) {
    const fy = Math.min(Math.max((y + 0.5) * sy - 0.5, 0), height - 1);
    const y0 = Math.floor(fy);
    const y1 = Math.min(y0 + 1, height - 1);
    const wy = fy - y0;
    for (let x = 0; x < toWidth; x++) {
      const fx = Math.min(Math.max((x + 0.5) * sx - 0.5, 0), width - 1);
      const x0 = Math.floor(fx);
      const x1 = Math.min(x0 + 1, width - 1);
      const wx = fx - x0;
      for (let c = 0; c < 3; c++) {
        const p = (yy: number, xx: number): number => rgb[(yy * width + xx) * 3 + c] as number;
        const top = p(y0, x0) * (1 - wx) + p(y0, x1) * wx;
        const bottom = p(y1, x0) * (1 - wx) + p(y1, x1) * wx;
        out[(y * toWidth + x) * 3 + c] = Math.round(top * (1 - wy) + bottom * wy);
      }
    }
  }
  return out;
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
