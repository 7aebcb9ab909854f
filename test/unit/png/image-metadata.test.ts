import { describe, expect, it } from 'vitest';
import { isSdError } from '../../../src/core/errors.ts';
import { missingInfotextMessage, readImageMetadata } from '../../../src/core/png/image-metadata.ts';
import { encodePng } from '../../../src/core/png/png.ts';
import { SAMPLES } from './infotext-samples.ts';

/** UTF-16 code units of `text` in the given byte order. */
function utf16(text: string, isLittle: boolean): number[] {
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    out.push(...(isLittle ? [c & 0xff, c >> 8] : [c >> 8, c & 0xff]));
  }
  return out;
}

/**
 * A TIFF block laid out as piexif dumps `{"Exif": {UserComment: ...}}`: header, IFD0 with one Exif IFD
 * pointer, the Exif IFD with one UserComment entry, then the comment bytes.
 */
function tiffWithUserComment(comment: number[], isLittle: boolean): Uint8Array {
  const bytes: number[] = [];
  const u16 = (v: number) => bytes.push(...(isLittle ? [v & 0xff, v >> 8] : [v >> 8, v & 0xff]));
  const u32 = (v: number) =>
    bytes.push(
      ...(isLittle ? [v, v >>> 8, v >>> 16, v >>> 24] : [v >>> 24, v >>> 16, v >>> 8, v]).map((b) => b & 0xff),
    );
  bytes.push(...(isLittle ? [0x49, 0x49] : [0x4d, 0x4d]));
  u16(42);
  u32(8);
  // IFD0 at 8: one entry (ExifIFD pointer, LONG), next IFD 0 → 8 + 2 + 12 + 4 = 26
  u16(1);
  u16(0x8769);
  u16(4);
  u32(1);
  u32(26);
  u32(0);
  // Exif IFD at 26: one entry (UserComment, UNDEFINED) with data at 26 + 18 = 44
  u16(1);
  u16(0x9286);
  u16(7);
  u32(comment.length);
  u32(44);
  u32(0);
  bytes.push(...comment);
  return new Uint8Array(bytes);
}

const ascii = (s: string) => [...s].map((c) => c.charCodeAt(0));

function jpeg(tiff: Uint8Array): Uint8Array {
  const app1 = [...ascii('Exif\0\0'), ...tiff];
  const length = app1.length + 2;
  // SOI, an APP0 (JFIF) segment, APP1 with the EXIF, then SOS and EOI
  const app0 = [0xff, 0xe0, 0, 16, ...ascii('JFIF\0'), 1, 1, 0, 0, 1, 0, 1, 0, 0];
  return new Uint8Array([
    0xff,
    0xd8,
    ...app0,
    0xff,
    0xe1,
    length >> 8,
    length & 0xff,
    ...app1,
    0xff,
    0xda,
    0,
    2,
    0xff,
    0xd9,
  ]);
}

function webp(tiff: Uint8Array): Uint8Array {
  const le32 = (v: number) => [v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, v >>> 24];
  const vp8 = [...ascii('VP8L'), ...le32(5), 0x2f, 0, 0, 0, 0, 0];
  const exif = [...ascii('EXIF'), ...le32(tiff.length), ...tiff, ...(tiff.length % 2 ? [0] : [])];
  const body = [...ascii('WEBP'), ...vp8, ...exif];
  return new Uint8Array([...ascii('RIFF'), ...le32(body.length), ...body]);
}

const UNICODE = ascii('UNICODE\0');

describe('readImageMetadata', () => {
  it("reads A1111's JPEG infotext: piexif's UNICODE prefix and big-endian UTF-16, non-Latin text included", () => {
    const text = `${SAMPLES.a1111old}\n`.trim();
    const meta = readImageMetadata(jpeg(tiffWithUserComment([...UNICODE, ...utf16(text, false)], false)));
    expect(meta).toEqual({ format: 'jpeg', parameters: text });
  });

  it('reads little-endian UTF-16 (a TIFF block in Intel order) and an ASCII prefix', () => {
    const le = readImageMetadata(jpeg(tiffWithUserComment([...UNICODE, ...utf16(SAMPLES.forge, true)], true)));
    expect(le.parameters).toBe(SAMPLES.forge);
    const plain = readImageMetadata(
      jpeg(tiffWithUserComment([...ascii('ASCII\0\0\0'), ...ascii('a cat\nSteps: 1, Seed: 2, Sampler: Euler')], false)),
    );
    expect(plain.parameters).toBe('a cat\nSteps: 1, Seed: 2, Sampler: Euler');
  });

  it("reads a WebP's EXIF chunk", () => {
    const meta = readImageMetadata(webp(tiffWithUserComment([...UNICODE, ...utf16(SAMPLES.civitai, false)], false)));
    expect(meta).toEqual({ format: 'webp', parameters: SAMPLES.civitai });
  });

  it('reads PNG parameters, and says a ComfyUI PNG has a workflow and no A1111 parameters', () => {
    const rgb = new Uint8Array(3);
    expect(readImageMetadata(encodePng(rgb, 1, 1, { parameters: SAMPLES.a1111 })).parameters).toBe(SAMPLES.a1111);
    const comfy = readImageMetadata(
      encodePng(rgb, 1, 1, { prompt: '{"3": {"class_type": "KSampler"}}', workflow: '{"nodes": []}' }),
    );
    expect(comfy.parameters).toBeUndefined();
    expect(missingInfotextMessage('x.png', comfy)).toBe(
      'x.png carries a ComfyUI workflow ("prompt" and "workflow" JSON) and no AUTOMATIC1111 "parameters" text, so there are no ' +
        'settings to read here. Open it in ComfyUI, or use an image saved by AUTOMATIC1111, Forge, SD.Next or this tool.',
    );
    expect(missingInfotextMessage('y.jpg', readImageMetadata(jpeg(new Uint8Array(8))))).toContain(
      'no EXIF UserComment',
    );
  });

  it('rejects other formats naming the accepted ones, and survives truncated EXIF', () => {
    expect(() => readImageMetadata(new Uint8Array([0x47, 0x49, 0x46, 0x38]))).toThrow(
      expect.objectContaining({ code: 'bad-image', message: expect.stringContaining('Not a PNG, JPEG or WebP file') }),
    );
    const whole = jpeg(tiffWithUserComment([...UNICODE, ...utf16('abc', false)], false));
    for (let cut = 4; cut < whole.length; cut++) {
      try {
        readImageMetadata(whole.subarray(0, cut));
      } catch (e) {
        expect(isSdError(e), `cut at ${cut}: ${String(e)}`).toBe(true);
      }
    }
  });
});
