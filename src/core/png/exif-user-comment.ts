// EXIF UserComment (tag 0x9286) as A1111 writes it into JPEG and WebP files: piexif's
// `UserComment.dump(text, encoding="unicode")`, an 8-byte "UNICODE\0" prefix and UTF-16 text (big-endian
// from piexif; other writers follow the TIFF byte order), or an "ASCII\0\0\0" prefix and ASCII text.

import { strFromU8 } from 'fflate';

const USER_COMMENT = 0x9286;
const EXIF_IFD_POINTER = 0x8769;
const PREFIX_LENGTH = 8;
/** Bytes per IFD entry: tag, type, count, value or offset. */
const ENTRY_LENGTH = 12;
const TYPE_SIZES: Readonly<Record<number, number>> = {
  1: 1,
  2: 1,
  3: 2,
  4: 4,
  5: 8,
  6: 1,
  7: 1,
  8: 2,
  9: 4,
  10: 8,
  11: 4,
  12: 8,
};

/** The bytes of one tag in the IFD at `ifdOffset` of a TIFF block, or undefined. */
function tagBytes(tiff: DataView, ifdOffset: number, tag: number, isLittle: boolean): Uint8Array | undefined {
  if (ifdOffset + 2 > tiff.byteLength) return undefined;
  const count = tiff.getUint16(ifdOffset, isLittle);
  for (let i = 0; i < count; i++) {
    const entry = ifdOffset + 2 + i * ENTRY_LENGTH;
    if (entry + ENTRY_LENGTH > tiff.byteLength) return undefined;
    if (tiff.getUint16(entry, isLittle) !== tag) continue;
    const size = (TYPE_SIZES[tiff.getUint16(entry + 2, isLittle)] ?? 1) * tiff.getUint32(entry + 4, isLittle);
    const start = size <= 4 ? entry + 8 : tiff.getUint32(entry + 8, isLittle);
    if (start + size > tiff.byteLength) return undefined;
    return new Uint8Array(tiff.buffer, tiff.byteOffset + start, size);
  }
  return undefined;
}

function utf16(bytes: Uint8Array, isLittle: boolean): string {
  let out = '';
  for (let i = 0; i + 1 < bytes.length; i += 2) {
    out += String.fromCharCode(isLittle ? bytes[i]! | (bytes[i + 1]! << 8) : (bytes[i]! << 8) | bytes[i + 1]!);
  }
  return out;
}

/**
 * Byte order of UTF-16 text without a byte order mark: mostly-ASCII text has its zero bytes at even
 * offsets in big-endian and at odd offsets in little-endian; `fallback` decides a tie.
 */
function isLittleEndianText(bytes: Uint8Array, fallback: boolean): boolean {
  let evenZeros = 0;
  let oddZeros = 0;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] !== 0) continue;
    if (i % 2 === 0) evenZeros++;
    else oddZeros++;
  }
  return evenZeros === oddZeros ? fallback : oddZeros > evenZeros;
}

/** piexif's `UserComment.load`, tolerant of byte order, trailing NULs and an undefined prefix. */
function decodeUserComment(bytes: Uint8Array, tiffIsLittle: boolean): string {
  const prefix = String.fromCharCode(...bytes.subarray(0, PREFIX_LENGTH));
  let body = bytes.subarray(PREFIX_LENGTH);
  let text: string;
  if (prefix === 'UNICODE\0') {
    let isLittle = isLittleEndianText(body, tiffIsLittle);
    if (body[0] === 0xfe && body[1] === 0xff) [isLittle, body] = [false, body.subarray(2)];
    else if (body[0] === 0xff && body[1] === 0xfe) [isLittle, body] = [true, body.subarray(2)];
    text = utf16(body, isLittle);
  } else {
    // ASCII, JIS or undefined prefixes: A1111's fallback decodes the bytes as UTF-8
    text = strFromU8(prefix.startsWith('ASCII') || prefix === '\0'.repeat(8) ? body : bytes);
  }
  return text.replace(/\0+$/, '');
}

/**
 * The UserComment text of a TIFF-structured EXIF block (with or without the "Exif\0\0" header that JPEG's
 * APP1 segment carries), looked up in the Exif IFD and, failing that, in IFD0. Undefined when there is
 * none or the block is malformed; never throws.
 */
export function exifUserComment(exif: Uint8Array): string | undefined {
  let block = exif;
  if (String.fromCharCode(...block.subarray(0, 6)) === 'Exif\0\0') block = block.subarray(6);
  if (block.length < 8) return undefined;
  const order = String.fromCharCode(block[0]!, block[1]!);
  if (order !== 'II' && order !== 'MM') return undefined;
  const isLittle = order === 'II';
  const tiff = new DataView(block.buffer, block.byteOffset, block.byteLength);
  const ifd0 = tiff.getUint32(4, isLittle);
  const pointer = tagBytes(tiff, ifd0, EXIF_IFD_POINTER, isLittle);
  const exifIfd =
    pointer && pointer.length >= 4
      ? new DataView(pointer.buffer, pointer.byteOffset, 4).getUint32(0, isLittle)
      : undefined;
  const comment =
    (exifIfd === undefined ? undefined : tagBytes(tiff, exifIfd, USER_COMMENT, isLittle)) ??
    tagBytes(tiff, ifd0, USER_COMMENT, isLittle);
  return comment === undefined || comment.length < PREFIX_LENGTH ? undefined : decodeUserComment(comment, isLittle);
}
