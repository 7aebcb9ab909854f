import { describe, expect, it } from 'vitest';
import { SafetensorsWeights, type WeightSource } from '../../../src/core/graphs/safetensors-weights.ts';
import { GraphBuilder } from '../../../src/core/onnx/graph-builder.ts';
import { bytesByteSource } from '../../../src/core/safetensors/byte-source.ts';
import { SafetensorsFile } from '../../../src/core/safetensors/safetensors-file.ts';
import { buildSafetensors, f32Bytes } from '../safetensors/safetensors-fixture.ts';

async function weightsOf(bytes: Uint8Array): Promise<SafetensorsWeights> {
  const file = await SafetensorsFile.open(bytesByteSource(bytes), 'unet.safetensors');
  return new SafetensorsWeights(file, { location: 'unet.safetensors', convertedLocation: 'unet.float32.bin' });
}

describe('SafetensorsWeights', () => {
  it('widens float16 and bfloat16 tensors into consecutive ranges of the converted file', async () => {
    const weights = await weightsOf(
      buildSafetensors({
        a: { dtype: 'F16', shape: [2], bytes: new Uint8Array(new Uint16Array([0x3c00, 0xc000]).buffer) },
        kept: { dtype: 'F32', shape: [1], bytes: f32Bytes([7]) },
        b: { dtype: 'BF16', shape: [1, 1], bytes: new Uint8Array(new Uint16Array([0x4040]).buffer) },
      }),
    );
    const g = new GraphBuilder('g');
    weights.bind(g, 'a', [2]);
    weights.bind(g, 'kept', [1]);
    weights.bind(g, 'b', [1, 1]);
    expect(weights.convertedByteLength).toBe(12);
    const chunks: number[][] = [];
    await weights.writeConverted((c) => void chunks.push([...new Float32Array(c.slice().buffer)]));
    expect(chunks).toEqual([[1, -2], [3]]);
    expect([...new Float32Array((await weights.materializeConverted()).buffer)]).toEqual([1, -2, 3]);
  });

  it('refuses integer tensors and wrong shapes, naming both shapes', async () => {
    const weights = await weightsOf(
      buildSafetensors({
        ids: { dtype: 'I64', shape: [1], bytes: new Uint8Array(8) },
        w: { dtype: 'F32', shape: [2], bytes: f32Bytes([1, 2]) },
      }),
    );
    const g = new GraphBuilder('g');
    expect(() => weights.bind(g, 'ids', [1])).toThrow(
      /"ids" in "unet.safetensors" is I64; model weights must be F32, F16 or BF16/,
    );
    expect(() => weights.bind(g, 'w', [3])).toThrow(
      /"w" in "unet.safetensors" has shape \[2\] but the config implies \[3\]/,
    );
  });

  it('binds renamed, reshaped, ranged and transposed tensors (float32 ranges in place, the rest converted)', async () => {
    const file = await SafetensorsFile.open(
      bytesByteSource(
        buildSafetensors({
          packed: { dtype: 'F32', shape: [3, 2], bytes: f32Bytes([1, 2, 3, 4, 5, 6]) },
          half: {
            dtype: 'F16',
            shape: [2, 3],
            bytes: new Uint8Array(new Uint16Array([0x3c00, 0x4000, 0x4200, 0x4400, 0x4500, 0x4600]).buffer),
          },
          conv: { dtype: 'F32', shape: [2, 2, 1, 1], bytes: f32Bytes([7, 8, 9, 10]) },
        }),
      ),
      'model.safetensors',
    );
    const sources: Record<string, WeightSource> = {
      k: { tensor: 'packed', shape: [3, 2], range: { start: 2, count: 2 } },
      'proj.weight': { tensor: 'half', transpose: true },
      'half.v': { tensor: 'half', shape: [2, 3], range: { start: 3, count: 3 } },
      'attn.q': { tensor: 'conv', shape: [2, 2, 1, 1] },
    };
    const weights = new SafetensorsWeights(file, {
      location: 'model.safetensors',
      convertedLocation: 'converted.bin',
      fileKey: (key) => sources[key]!,
    });
    const g = new GraphBuilder('g');
    weights.bind(g, 'k', [1, 2]);
    weights.bind(g, 'proj.weight', [3, 2]);
    weights.bind(g, 'half.v', [3]);
    weights.bind(g, 'attn.q', [2, 2]);
    // only the float16 tensors are converted: the transpose of [[1, 2, 3], [4, 5, 6]], then elements 3…5
    expect([...new Float32Array((await weights.materializeConverted()).buffer)]).toEqual([1, 4, 2, 5, 3, 6, 4, 5, 6]);
    expect(() => weights.bind(g, 'proj.weight', [2, 3])).toThrow(
      /"half" in "model.safetensors" has shape \[2, 3\] but the config implies \[3, 2\]/,
    );
  });

  it('mounts float32 tensors from windows of the file and splits the converted file into parts', async () => {
    const file = await SafetensorsFile.open(
      bytesByteSource(
        buildSafetensors({
          a: { dtype: 'F32', shape: [2], bytes: f32Bytes([1, 2]) },
          b: { dtype: 'F32', shape: [2], bytes: f32Bytes([3, 4]) },
          h1: { dtype: 'F16', shape: [2], bytes: new Uint8Array(new Uint16Array([0x3c00, 0x4000]).buffer) },
          h2: { dtype: 'F16', shape: [2], bytes: new Uint8Array(new Uint16Array([0x4200, 0x4400]).buffer) },
        }),
      ),
      'model.safetensors',
    );
    const a = file.tensors.get('a')!;
    const b = file.tensors.get('b')!;
    const windows = [
      { location: 'w0', start: a.offset, end: a.offset + 8 },
      { location: 'w1', start: b.offset, end: b.offset + 8 },
    ];
    const weights = new SafetensorsWeights(file, {
      location: 'model.safetensors',
      convertedLocation: 'c',
      windows,
      convertedPartBytes: 8,
    });
    const g = new GraphBuilder('g');
    weights.bind(g, 'b', [2]);
    weights.bind(g, 'h1', [2]);
    weights.bind(g, 'h2', [2]);
    expect(weights.mountedWindows).toEqual([windows[1]]);
    expect(weights.convertedParts).toEqual([
      { location: 'c', byteLength: 8 },
      { location: 'c.1', byteLength: 8 },
    ]);
    expect(() =>
      new SafetensorsWeights(file, { location: 'x', convertedLocation: 'c', windows: [windows[0]!] }).bind(
        new GraphBuilder('h'),
        'b',
        [2],
      ),
    ).toThrow(/lies in no mounted window/);
  });
});
