// Generation metadata of PNG, JPEG and WebP files, where A1111 and ComfyUI put it: PNG text chunks
// ("parameters" from A1111, "prompt"/"workflow" JSON from ComfyUI), and for JPEG and WebP the EXIF
// UserComment that A1111 writes with piexif.
import { SdError } from '../errors.ts';
import { exifUserComment } from './exif-user-comment.ts';
import { readPngText } from './png.ts';

/** What an image file carries. */
export interface ImageMetadata {
  format: 'png' | 'jpeg' | 'webp';
  /** A1111's infotext: the PNG "parameters" text, or the EXIF UserComment of a JPEG or WebP. */
  parameters?: string;
  /** ComfyUI's API-format graph (PNG "prompt" text, JSON). */
  comfyPrompt?: string;
  /** ComfyUI's editor workflow (PNG "workflow" text, JSON). */
  comfyWorkflow?: string;
}

const JPEG_SOS = 0xda;
const JPEG_APP1 = 0xe1;

function ascii(bytes: Uint8Array, start: number, length: number): string {
  return String.fromCharCode(...bytes.subarray(start, start + length));
}

/** The EXIF block of a JPEG's APP1 segment, walking markers up to the image data. */
function jpegExif(bytes: Uint8Array): Uint8Array | undefined {
  let offset = 2;
  while (offset + 4 <= bytes.length && bytes[offset] === 0xff) {
    const marker = bytes[offset + 1]!;
    if (marker === JPEG_SOS) break;
    // fill bytes and markers without a length (RSTn, TEM)
    if (marker === 0xff || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      offset += marker === 0xff ? 1 : 2;
      continue;
    }
    const length = (bytes[offset + 2]! << 8) | bytes[offset + 3]!;
    const data = bytes.subarray(offset + 4, offset + 2 + length);
    if (marker === JPEG_APP1 && ascii(data, 0, 6) === 'Exif\0\0') return data;
    offset += 2 + length;
  }
  return undefined;
}

/** The EXIF chunk of a WebP (RIFF) file. */
function webpExif(bytes: Uint8Array): Uint8Array | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let offset = 12;
  while (offset + 8 <= bytes.length) {
    const size = view.getUint32(offset + 4, true);
    if (ascii(bytes, offset, 4) === 'EXIF') return bytes.subarray(offset + 8, offset + 8 + size);
    offset += 8 + size + (size % 2);
  }
  return undefined;
}

/**
 * Reads the generation metadata of a PNG, JPEG or WebP file's bytes.
 * @throws SdError 'bad-image' for other formats (naming the accepted ones) or a malformed PNG text chunk.
 */
export function readImageMetadata(bytes: Uint8Array): ImageMetadata {
  if (bytes[0] === 0x89 && ascii(bytes, 1, 3) === 'PNG') {
    const text = readPngText(bytes);
    const meta: ImageMetadata = { format: 'png' };
    if (Object.hasOwn(text, 'parameters')) meta.parameters = text['parameters'];
    if (Object.hasOwn(text, 'prompt')) meta.comfyPrompt = text['prompt'];
    if (Object.hasOwn(text, 'workflow')) meta.comfyWorkflow = text['workflow'];
    return meta;
  }
  const isJpeg = bytes[0] === 0xff && bytes[1] === 0xd8;
  const isWebp = ascii(bytes, 0, 4) === 'RIFF' && ascii(bytes, 8, 4) === 'WEBP';
  if (!isJpeg && !isWebp) {
    throw new SdError(
      'bad-image',
      `Not a PNG, JPEG or WebP file (${bytes.length} bytes, unknown signature). Use an image saved by AUTOMATIC1111, Forge, SD.Next, ComfyUI or this tool.`,
    );
  }
  const exif = isJpeg ? jpegExif(bytes) : webpExif(bytes);
  const comment = exif && exifUserComment(exif);
  return { format: isJpeg ? 'jpeg' : 'webp', ...(comment ? { parameters: comment } : {}) };
}

/**
 * Why a file has no A1111 infotext, for an error message: a ComfyUI workflow instead, or no metadata.
 * @param name the file's name, as the user knows it
 */
export function missingInfotextMessage(name: string, meta: ImageMetadata): string {
  if (meta.comfyPrompt !== undefined || meta.comfyWorkflow !== undefined) {
    const chunks = [meta.comfyPrompt !== undefined && '"prompt"', meta.comfyWorkflow !== undefined && '"workflow"']
      .filter(Boolean)
      .join(' and ');
    return `${name} carries a ComfyUI workflow (${chunks} JSON) and no AUTOMATIC1111 "parameters" text, so there are no settings to read here. Open it in ComfyUI, or use an image saved by AUTOMATIC1111, Forge, SD.Next or this tool.`;
  }
  const where = meta.format === 'png' ? 'no "parameters" text chunk' : 'no EXIF UserComment';
  return `${name} carries no generation parameters (${where}): it was not saved by AUTOMATIC1111, Forge, SD.Next or this tool, or its metadata was stripped.`;
}
