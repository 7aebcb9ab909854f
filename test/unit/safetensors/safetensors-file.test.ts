import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isSdError } from '../../../src/core/errors.ts';
import { blobByteSource, bytesByteSource } from '../../../src/core/safetensors/byte-source.ts';
import { SafetensorsFile } from '../../../src/core/safetensors/safetensors-file.ts';
import { FIXTURES } from '../../fixtures.ts';
import { nodeFileByteSource } from '../../../src/cli/node-weights-file.ts';
import { buildSafetensors, f32Bytes } from './safetensors-fixture.ts';

const SINGLE_FILE = resolve(FIXTURES, 'single-file');

async function openBytes(bytes: Uint8Array): Promise<SafetensorsFile> {
  return SafetensorsFile.open(bytesByteSource(bytes), 'model.safetensors');
}

/** Expects `promise` to reject with an SdError of `code` whose message matches `pattern`. */
async function expectSdError(promise: Promise<unknown>, code: string, pattern: RegExp): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isSdError(error), `expected an SdError, got ${String(error)}`).toBe(true);
  expect((error as { code: string }).code).toBe(code);
  expect((error as Error).message).toMatch(pattern);
}

const TWO_TENSORS = {
  'a.weight': { dtype: 'F32', shape: [2, 3], bytes: f32Bytes([1, 2, 3, 4, 5, 6]) },
  'b.bias': { dtype: 'F16', shape: [2], bytes: new Uint8Array([0x00, 0x3c, 0x00, 0xc0]) },
};

describe('SafetensorsFile', () => {
  it('reads tensor infos with absolute offsets, metadata and tensor bytes', async () => {
    const bytes = buildSafetensors(TWO_TENSORS, undefined, { format: 'pt' });
    const file = await openBytes(bytes);
    expect(file.metadata).toEqual({ format: 'pt' });
    const a = file.tensor('a.weight');
    expect(a).toMatchObject({ dtype: 'F32', shape: [2, 3], byteLength: 24, offset: file.dataStart });
    expect(file.tensor('b.bias').offset).toBe(file.dataStart + 24);
    expect([...new Float32Array((await file.readBytes('a.weight')).slice().buffer)]).toEqual([1, 2, 3, 4, 5, 6]);
    expect([...new Float32Array((await file.readBytes('a.weight', 4, 2)).slice().buffer)]).toEqual([5, 6]);
    expect([...(await file.readBytes('b.bias'))]).toEqual([0x00, 0x3c, 0x00, 0xc0]);
  });

  it('reads through a Blob slice source', async () => {
    const file = await SafetensorsFile.open(blobByteSource(new Blob([buildSafetensors(TWO_TENSORS)])), 'x.safetensors');
    expect([...new Float32Array((await file.readBytes('a.weight', 1, 1)).slice().buffer)]).toEqual([2]);
  });

  it('opens the fixture text encoder reading only the header', async () => {
    const source = await nodeFileByteSource(resolve(SINGLE_FILE, 'tiny-sd15-diffusers/text_encoder/model.safetensors'));
    try {
      const file = await SafetensorsFile.open(source, 'model.safetensors');
      expect(source.bytesRead).toBeLessThan(file.dataStart + 32);
      const q = file.tensor('text_model.encoder.layers.0.self_attn.q_proj.weight');
      expect(q).toMatchObject({ dtype: 'F32', shape: [16, 16], byteLength: 16 * 16 * 4 });
      expect(file.tensors.size).toBeGreaterThan(40);
    } finally {
      await source.close();
    }
  });

  it('parses the float16 single-file checkpoint with its int64 position_ids', async () => {
    const source = await nodeFileByteSource(resolve(SINGLE_FILE, 'tiny-sd15.safetensors'));
    try {
      const file = await SafetensorsFile.open(source, 'tiny-sd15.safetensors');
      expect(file.tensor('cond_stage_model.transformer.text_model.embeddings.position_ids').dtype).toBe('I64');
      expect(
        file.tensor('cond_stage_model.transformer.text_model.encoder.layers.0.self_attn.q_proj.weight').dtype,
      ).toBe('F16');
    } finally {
      await source.close();
    }
  });

  it('names the missing tensor and nearby keys', async () => {
    const file = await openBytes(buildSafetensors(TWO_TENSORS));
    expect(() => file.tensor('a.bias')).toThrow(
      /Tensor "a.bias" is not in "model.safetensors" \(2 tensors, e.g. "a.weight"\)/,
    );
  });
});

describe('SafetensorsFile refuses bad files', () => {
  it('a truncated file (tensor range past the end)', async () => {
    const bytes = buildSafetensors(TWO_TENSORS);
    await expectSdError(
      openBytes(bytes.subarray(0, bytes.byteLength - 3)),
      'integrity',
      /truncated: tensor "b.bias" ends at byte \d+ but the file has \d+ bytes/,
    );
  });

  it('a file cut inside its header', async () => {
    const bytes = buildSafetensors(TWO_TENSORS);
    await expectSdError(
      openBytes(bytes.subarray(0, 20)),
      'integrity',
      /truncated: it needs at least \d+ bytes but has 20/,
    );
  });

  it('a header length past the end and an absurd header length', async () => {
    const bytes = buildSafetensors(TWO_TENSORS);
    new DataView(bytes.buffer).setUint32(0, 5000, true);
    await expectSdError(openBytes(bytes), 'integrity', /needs at least 5008 bytes/);
    new DataView(bytes.buffer).setUint32(4, 7, true);
    await expectSdError(openBytes(bytes), 'unsupported-model', /header length .* is over the 100000000-byte limit/);
  });

  it('an HTML page saved as .safetensors', async () => {
    const html = new TextEncoder().encode('\n<!DOCTYPE html><html><head><title>Sign in</title></head></html>');
    await expectSdError(openBytes(html), 'unsupported-model', /looks like an HTML page/);
  });

  it('pickled checkpoints, zip and raw, saying why', async () => {
    const zip = new Uint8Array([0x50, 0x4b, 0x03, 0x04, 0x14, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0]);
    await expectSdError(
      openBytes(zip),
      'unsupported-model',
      /pickled PyTorch checkpoint \(a torch.save zip archive\).*can run arbitrary code.*convert/,
    );
    const pickle = new Uint8Array([0x80, 0x02, 0x7d, 0x71, 0x00, 0x28]);
    await expectSdError(openBytes(pickle), 'unsupported-model', /raw pickle stream/);
  });

  it('a Git LFS pointer and a JSON error body', async () => {
    const lfs = new TextEncoder().encode('version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 123\n');
    await expectSdError(openBytes(lfs), 'unsupported-model', /Git LFS pointer/);
    await expectSdError(
      openBytes(new TextEncoder().encode('{"error":"Entry not found"}')),
      'unsupported-model',
      /starts like JSON/,
    );
  });

  it('a header that is not JSON', async () => {
    const bytes = buildSafetensors(TWO_TENSORS);
    bytes[8] = 0x7e; // '~' instead of '{'
    await expectSdError(openBytes(bytes), 'unsupported-model', /header is not valid JSON/);
  });

  it('an unknown dtype, naming the allowed ones', async () => {
    const bytes = buildSafetensors(TWO_TENSORS, (h) => ((h['b.bias'] as { dtype: string }).dtype = 'F4'));
    await expectSdError(
      openBytes(bytes),
      'unsupported-model',
      /"b.bias".*dtype "F4".*Expected one of: F64, F32, F16, BF16/,
    );
  });

  it('a shape that does not match the byte range', async () => {
    const bytes = buildSafetensors(TWO_TENSORS, (h) => ((h['a.weight'] as { shape: number[] }).shape = [3, 3]));
    await expectSdError(
      openBytes(bytes),
      'unsupported-model',
      /"a.weight" \(F32 \[3, 3\]\) needs 36 bytes but its data_offsets \[0, 24\] span 24/,
    );
  });

  it('overlapping ranges', async () => {
    const bytes = buildSafetensors(
      TWO_TENSORS,
      (h) => ((h['b.bias'] as { data_offsets: number[] }).data_offsets = [20, 24]),
    );
    await expectSdError(
      openBytes(bytes),
      'unsupported-model',
      /"a.weight" \(bytes \d+–\d+\) and "b.bias" \(bytes \d+–\d+\) overlap/,
    );
  });

  it('malformed shapes and offsets', async () => {
    const negative = buildSafetensors(TWO_TENSORS, (h) => ((h['a.weight'] as { shape: number[] }).shape = [-2, -3]));
    await expectSdError(
      openBytes(negative),
      'unsupported-model',
      /shape \[-2,-3\]; expected a list of non-negative integers/,
    );
    const reversed = buildSafetensors(
      TWO_TENSORS,
      (h) => ((h['a.weight'] as { data_offsets: number[] }).data_offsets = [24, 0]),
    );
    await expectSdError(openBytes(reversed), 'unsupported-model', /data_offsets \[24, 0\]/);
  });
});
