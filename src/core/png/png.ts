// 8-bit RGB PNG files with text chunks, the way A1111 (through Pillow) stores its "parameters" infotext.
// fast-png does the pixel coding; text chunks are written and read here because fast-png only knows tEXt
// and writes it after the image data.
import { concatBytes } from '../io/concat.ts';
import { strFromU8, strToU8, unzlibSync } from 'fflate';
import { convertIndexedToRgb, decode, encode, type DecodedPng } from 'fast-png';
import { SdError } from '../errors.ts';

/** A decoded PNG: pixels as 8-bit RGB, row-major `[height, width, 3]`, plus every text chunk. */
export interface DecodedRgbPng {
  width: number;
  height: number;
  /** Uint8Array `[height, width, 3]`; alpha is dropped, gray, palette and 16-bit images are converted. */
  rgb: Uint8Array;
  /** Keyword → text from tEXt, zTXt and iTXt chunks (a later chunk with the same keyword wins). */
  text: Record<string, string>;
}

const SIGNATURE_LENGTH = 8;
/** Length field, type and CRC around each chunk's data. */
const CHUNK_OVERHEAD = 12;
const IHDR_END = SIGNATURE_LENGTH + CHUNK_OVERHEAD + 13;
const MAX_KEYWORD_LENGTH = 79;
// every character a tEXt chunk can hold, NUL included (a keyword separator is checked elsewhere)
// eslint-disable-next-line no-control-regex
const LATIN1 = /^[\u0000-\u00ff]*$/;

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (the PNG/zlib polynomial) of `bytes`. */
function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function latin1Bytes(text: string): Uint8Array {
  return strToU8(text, true);
}

function latin1String(bytes: Uint8Array): string {
  return strFromU8(bytes, true);
}

/** One chunk: big-endian length, 4-letter type, data, CRC over type and data. */
function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(data.length + CHUNK_OVERHEAD);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  out.set(latin1Bytes(type), 4);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/** tEXt when both sides are Latin-1 (as Pillow's `add_text` decides), else uncompressed UTF-8 iTXt. */
function textChunk(keyword: string, value: string): Uint8Array {
  if (keyword.length === 0 || keyword.length > MAX_KEYWORD_LENGTH || !LATIN1.test(keyword) || keyword.includes('\0')) {
    throw new SdError(
      'bad-argument',
      `Bad PNG text keyword "${keyword}": it must be 1 to ${MAX_KEYWORD_LENGTH} Latin-1 characters without NUL. Use a plain name such as "parameters".`,
    );
  }
  const key = latin1Bytes(keyword);
  if (LATIN1.test(value)) return chunk('tEXt', concatBytes([key, new Uint8Array([0]), latin1Bytes(value)]));
  // NUL after keyword, compression flag 0, method 0, empty language tag and translated keyword (NUL each).
  return chunk('iTXt', concatBytes([key, new Uint8Array([0, 0, 0, 0, 0]), strToU8(value)]));
}

/**
 * Encodes 8-bit RGB pixels as a PNG, with each `text` entry as a tEXt (Latin-1) or iTXt (UTF-8) chunk
 * placed before the image data so readers that stop early still see it.
 * @param rgb Uint8Array `[height, width, 3]`.
 * @throws SdError 'bad-image' when the size does not match the pixels, 'bad-argument' for a bad keyword.
 */
export function encodePng(
  rgb: Uint8Array,
  width: number,
  height: number,
  text: Record<string, string> = {},
): Uint8Array {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new SdError('bad-image', `Bad PNG size ${width}x${height}: width and height must be positive integers.`);
  }
  if (rgb.length !== width * height * 3) {
    throw new SdError(
      'bad-image',
      `RGB buffer has ${rgb.length} bytes but a ${width}x${height} image needs ${width * height * 3} (3 per pixel).`,
    );
  }
  const textChunks = Object.entries(text).map(([k, v]) => textChunk(k, v));
  const png = encode({ width, height, data: rgb, depth: 8, channels: 3 });
  return concatBytes([png.subarray(0, IHDR_END), ...textChunks, png.subarray(IHDR_END)]);
}

/** Index of the first NUL at or after `from`, or throws naming the chunk. */
function nulAt(data: Uint8Array, from: number, type: string): number {
  const at = data.indexOf(0, from);
  if (at < 0) throw new SdError('bad-image', `PNG ${type} chunk is missing a NUL separator.`);
  return at;
}

function inflate(data: Uint8Array, type: string): Uint8Array {
  try {
    return unzlibSync(data);
  } catch (e) {
    throw new SdError('bad-image', `PNG ${type} chunk holds text that does not decompress.`, { cause: e });
  }
}

/** Reads one tEXt, zTXt or iTXt chunk into `text`. */
function readTextChunk(type: string, data: Uint8Array, text: Map<string, string>): void {
  const keyEnd = nulAt(data, 0, type);
  const keyword = latin1String(data.subarray(0, keyEnd));
  if (type === 'tEXt') {
    text.set(keyword, latin1String(data.subarray(keyEnd + 1)));
  } else if (type === 'zTXt') {
    text.set(keyword, latin1String(inflate(data.subarray(keyEnd + 2), type)));
  } else {
    const isCompressed = data[keyEnd + 1] === 1;
    const languageEnd = nulAt(data, keyEnd + 3, type);
    const translatedEnd = nulAt(data, languageEnd + 1, type);
    const body = data.subarray(translatedEnd + 1);
    text.set(keyword, strFromU8(isCompressed ? inflate(body, type) : body));
  }
}

/** Walks the chunk list for text chunks; fast-png has already checked signature, lengths and CRCs. */
function readText(bytes: Uint8Array): Record<string, string> {
  // A Map, so that any keyword (even "__proto__") ends up as plain data.
  const text = new Map<string, string>();
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let offset = SIGNATURE_LENGTH;
  while (offset + CHUNK_OVERHEAD <= bytes.length) {
    const length = view.getUint32(offset);
    const type = latin1String(bytes.subarray(offset + 4, offset + 8));
    const data = bytes.subarray(offset + 8, offset + 8 + length);
    if (type === 'tEXt' || type === 'zTXt' || type === 'iTXt') readTextChunk(type, data, text);
    if (type === 'IEND') break;
    offset += length + CHUNK_OVERHEAD;
  }
  return Object.fromEntries(text);
}

/** Expands gray samples packed 1, 2 or 4 to a byte (rows start on a byte boundary) to 0..255. */
function unpackLowDepthGray(data: Uint8Array, width: number, height: number, depth: number): Uint8Array {
  const out = new Uint8Array(width * height);
  const rowBytes = Math.ceil((width * depth) / 8);
  const maxValue = (1 << depth) - 1;
  const scale = 255 / maxValue;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const bit = x * depth;
      const byte = data[y * rowBytes + (bit >> 3)]!;
      out[y * width + x] = Math.round(((byte >> (8 - depth - (bit & 7))) & maxValue) * scale);
    }
  }
  return out;
}

/** Any PNG colour type and depth → 8-bit RGB; 16-bit samples keep their high byte, as Pillow does. */
function toRgb8(png: DecodedPng): Uint8Array {
  const { width, height } = png;
  const pixels = width * height;
  let samples: ArrayLike<number>;
  let channels = png.channels;
  let shift = 0;
  if (png.palette) {
    samples = convertIndexedToRgb(png);
    channels = png.palette[0]?.length ?? 3;
  } else if (png.depth < 8) {
    samples = unpackLowDepthGray(png.data as Uint8Array, width, height, png.depth);
  } else {
    samples = png.data;
    shift = png.depth === 16 ? 8 : 0;
  }
  if (samples.length < pixels * channels) {
    throw new SdError(
      'bad-image',
      `PNG pixel data is short: ${samples.length} samples for ${width}x${height}x${channels}.`,
    );
  }
  const isGray = channels < 3;
  const rgb = new Uint8Array(pixels * 3);
  for (let i = 0; i < pixels; i++) {
    const base = i * channels;
    for (let c = 0; c < 3; c++) rgb[i * 3 + c] = samples[base + (isGray ? 0 : c)]! >>> shift;
  }
  return rgb;
}

/**
 * Decodes a PNG of any colour type and bit depth to 8-bit RGB and reads its tEXt, zTXt and iTXt chunks.
 * @throws SdError 'bad-image' naming what is wrong (not a PNG, truncated, bad CRC, bad text chunk).
 */
export function decodePng(bytes: Uint8Array): DecodedRgbPng {
  let png: DecodedPng;
  try {
    png = decode(bytes, { checkCrc: true });
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    throw new SdError(
      'bad-image',
      `Not a readable PNG (${bytes.length} bytes): ${reason}. Use an 8- or 16-bit PNG file.`,
      {
        cause: e,
      },
    );
  }
  return { width: png.width, height: png.height, rgb: toRgb8(png), text: readText(bytes) };
}

/**
 * The text chunks (tEXt, zTXt, iTXt) of PNG bytes without decoding the pixels or checking CRCs.
 * @throws SdError 'bad-image' for bytes without the PNG signature or with a malformed text chunk.
 */
export function readPngText(bytes: Uint8Array): Record<string, string> {
  const signature = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (bytes.length < SIGNATURE_LENGTH || signature.some((b, i) => bytes[i] !== b)) {
    throw new SdError('bad-image', `Not a PNG file (${bytes.length} bytes, no PNG signature).`);
  }
  return readText(bytes);
}
