import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import { encode } from 'fast-png';
import { describe, expect, it } from 'vitest';
import { decodePng, encodePng } from '../../../src/core/png/png.ts';
import { REFERENCE } from '../../fixtures.ts';

/** Reads a little-endian float32 .npy file (the reference images are saved that way). */
function readNpyFloat32(path: string): { shape: number[]; data: Float32Array } {
  const bytes = readFileSync(path);
  const headerLength = bytes.readUInt16LE(8);
  const header = bytes.subarray(10, 10 + headerLength).toString('latin1');
  expect(header).toContain("'descr': '<f4'");
  const shape = (/'shape': \(([^)]*)\)/.exec(header)?.[1] ?? '')
    .split(',')
    .filter((s) => s.trim())
    .map(Number);
  const start = 10 + headerLength;
  const data = new Float32Array(bytes.buffer.slice(bytes.byteOffset + start, bytes.byteOffset + bytes.length));
  return { shape, data };
}

/** A raw chunk built with Node's zlib CRC, independent of the code under test. */
function rawChunk(type: string, data: Uint8Array): Uint8Array {
  const out = Buffer.alloc(data.length + 12);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  out.set(data, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/** Inserts chunks right after IHDR (signature 8 bytes + IHDR 25 bytes). */
function withChunks(png: Uint8Array, chunks: Uint8Array[]): Uint8Array {
  return Buffer.concat([png.subarray(0, 33), ...chunks, png.subarray(33)]);
}

/** Chunk types in file order. */
function chunkTypes(png: Uint8Array): string[] {
  const buf = Buffer.from(png);
  const types: string[] = [];
  for (let offset = 8; offset < buf.length; offset += buf.readUInt32BE(offset) + 12) {
    types.push(buf.toString('latin1', offset + 4, offset + 8));
  }
  return types;
}

function gradient(width: number, height: number): Uint8Array {
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0; i < rgb.length; i++) rgb[i] = (i * 37 + (i % 3) * 91) & 0xff;
  return rgb;
}

describe('encodePng / decodePng', () => {
  it('round-trips pixels and text, Latin-1 as tEXt and the rest as iTXt, before IDAT', () => {
    const rgb = gradient(7, 5);
    const text = {
      parameters: 'a cat, (café:1.2)\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1, Size: 7x5',
      Comment: '日本語 and 🐱 emoji',
      Título: 'ñandú',
    };
    const png = encodePng(rgb, 7, 5, text);
    expect(chunkTypes(png)).toEqual(['IHDR', 'tEXt', 'iTXt', 'tEXt', 'IDAT', 'IEND']);
    const decoded = decodePng(png);
    expect(decoded.width).toBe(7);
    expect(decoded.height).toBe(5);
    expect(decoded.rgb).toEqual(rgb);
    expect(decoded.text).toEqual(text);
  });

  it('decodes the diffusers reference image to the pixels of its float image', () => {
    const bytes = new Uint8Array(readFileSync(resolve(REFERENCE, 'cases/sd15-euler-20.png')));
    const decoded = decodePng(bytes);
    expect([decoded.width, decoded.height]).toEqual([64, 64]);
    expect(decoded.text).toEqual({});
    const { shape, data } = readNpyFloat32(resolve(REFERENCE, 'cases/sd15-euler-20.npy'));
    expect(shape).toEqual([64, 64, 3]);
    let worst = 0;
    for (let i = 0; i < data.length; i++)
      worst = Math.max(worst, Math.abs(decoded.rgb[i]! - Math.round(data[i]! * 255)));
    expect(worst).toBeLessThanOrEqual(1);
  });

  it('reads zTXt and compressed iTXt chunks', () => {
    const base = encodePng(gradient(2, 2), 2, 2);
    const zTxt = rawChunk(
      'zTXt',
      Buffer.concat([Buffer.from('parameters\0\0', 'latin1'), deflateSync(Buffer.from('Steps: 20, café', 'latin1'))]),
    );
    const iTxt = rawChunk(
      'iTXt',
      Buffer.concat([
        Buffer.from('Comment\0\x01\0en\0Kommentar\0', 'latin1'),
        deflateSync(Buffer.from('猫 🐱', 'utf8')),
      ]),
    );
    const decoded = decodePng(withChunks(base, [zTxt, iTxt]));
    expect(decoded.text).toEqual({ parameters: 'Steps: 20, café', Comment: '猫 🐱' });
  });

  it('converts gray, gray+alpha, RGBA, 16-bit and palette images to 8-bit RGB', () => {
    const gray = decodePng(encode({ width: 2, height: 1, data: new Uint8Array([10, 200]), channels: 1, depth: 8 }));
    expect(Array.from(gray.rgb)).toEqual([10, 10, 10, 200, 200, 200]);
    const grayAlpha = decodePng(encode({ width: 1, height: 1, data: new Uint8Array([77, 0]), channels: 2, depth: 8 }));
    expect(Array.from(grayAlpha.rgb)).toEqual([77, 77, 77]);
    const rgba = decodePng(
      encode({ width: 2, height: 1, data: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]), channels: 4, depth: 8 }),
    );
    expect(Array.from(rgba.rgb)).toEqual([1, 2, 3, 5, 6, 7]);
    const deep = decodePng(
      encode({ width: 1, height: 1, data: new Uint16Array([0x1234, 0xabcd, 0xff00]), channels: 3, depth: 16 }),
    );
    expect(Array.from(deep.rgb)).toEqual([0x12, 0xab, 0xff]);
    const palette = [
      [255, 0, 0],
      [0, 0, 255],
    ];
    const indexed = decodePng(
      encode({ width: 3, height: 1, data: new Uint8Array([1, 0, 1]), channels: 1, depth: 8, palette }),
    );
    expect(Array.from(indexed.rgb)).toEqual([0, 0, 255, 255, 0, 0, 0, 0, 255]);
  });

  it('expands 1-bit gray rows that end mid-byte', () => {
    // 3x2 at 1 bit: rows 101 and 010, each padded to a byte.
    const png = encode({
      width: 3,
      height: 2,
      data: new Uint8Array([0b1010_0000, 0b0100_0000]),
      channels: 1,
      depth: 1,
    });
    expect(Array.from(decodePng(png).rgb)).toEqual([
      255, 255, 255, 0, 0, 0, 255, 255, 255, 0, 0, 0, 255, 255, 255, 0, 0, 0,
    ]);
  });

  it.each([
    ['not a PNG', new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])],
    ['empty', new Uint8Array(0)],
    ['truncated', encodePng(gradient(4, 4), 4, 4).subarray(0, 40)],
  ])('rejects %s input as bad-image', (_what, bytes) => {
    expect(() => decodePng(bytes)).toThrow(expect.objectContaining({ code: 'bad-image' }));
  });

  it('rejects a chunk with a bad CRC', () => {
    const png = encodePng(gradient(2, 2), 2, 2, { parameters: 'x' });
    const corrupt = png.slice();
    corrupt[40] = corrupt[40]! ^ 0xff; // inside the tEXt data
    expect(() => decodePng(corrupt)).toThrow(expect.objectContaining({ code: 'bad-image' }));
  });

  it('rejects pixels that do not match the size, and bad keywords', () => {
    expect(() => encodePng(new Uint8Array(11), 2, 2)).toThrow(
      expect.objectContaining({ code: 'bad-image', message: expect.stringContaining('11 bytes') }),
    );
    expect(() => encodePng(new Uint8Array(12), 2, 2, { '': 'x' })).toThrow(
      expect.objectContaining({ code: 'bad-argument' }),
    );
    expect(() => encodePng(new Uint8Array(12), 2, 2, { ['k'.repeat(80)]: 'x' })).toThrow(
      expect.objectContaining({ code: 'bad-argument' }),
    );
    expect(() => encodePng(new Uint8Array(12), 2, 2, { 猫: 'x' })).toThrow(
      expect.objectContaining({ code: 'bad-argument' }),
    );
  });
});
