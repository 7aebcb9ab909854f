import { SdError } from '../src/core/errors.ts';
import { decodePng } from '../src/core/png/png.ts';
import type { RgbImage } from '../src/core/pipeline/request.ts';
import type { InitImageFile } from './api.ts';

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47];

function isPng(bytes: Uint8Array): boolean {
  return PNG_SIGNATURE.every((b, i) => bytes[i] === b);
}

/**
 * Decodes an img2img source (or a ControlNet unit's image) to 8-bit RGB. PNGs go through the core's
 * decoder, bit-exact with what the CLI reads; JPEG, WebP and others through the browser
 * (createImageBitmap), without colour conversion, alpha dropped.
 * @param what names the image in messages ("init image", "ControlNet 0 image")
 */
export async function decodeInitImage(file: InitImageFile, what = 'init image'): Promise<RgbImage> {
  if (isPng(file.bytes)) {
    const png = decodePng(file.bytes);
    return { rgb: png.rgb, width: png.width, height: png.height };
  }
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(new Blob([file.bytes as Uint8Array<ArrayBuffer>], { type: file.type }), {
      colorSpaceConversion: 'none',
      premultiplyAlpha: 'none',
    });
  } catch (cause) {
    throw new SdError(
      'bad-image',
      `The ${what} (${file.type || 'unknown type'}, ${file.bytes.length} bytes) could not be decoded: use a PNG, JPEG or WebP file.`,
      { cause },
    );
  }
  const { width, height } = bitmap;
  const canvas = new OffscreenCanvas(width, height);
  const context = canvas.getContext('2d');
  if (!context)
    throw new SdError('internal', `OffscreenCanvas 2d context is unavailable: cannot decode the ${what}; use a PNG.`);
  context.drawImage(bitmap, 0, 0);
  bitmap.close();
  const rgba = context.getImageData(0, 0, width, height).data;
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0, j = 0; i < rgba.length; i += 4, j += 3) {
    rgb[j] = rgba[i] as number;
    rgb[j + 1] = rgba[i + 1] as number;
    rgb[j + 2] = rgba[i + 2] as number;
  }
  return { rgb, width, height };
}
