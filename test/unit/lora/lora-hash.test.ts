import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loraHashesText, loraShortHash } from '../../../src/core/lora/lora-hash.ts';
import { bytesByteSource } from '../../../src/core/safetensors/byte-source.ts';
import { SafetensorsFile } from '../../../src/core/safetensors/safetensors-file.ts';
import { FIXTURES } from '../../fixtures.ts';
import { buildSafetensors, f32Bytes } from '../safetensors/safetensors-fixture.ts';

describe("A1111's LoRA short hash", () => {
  it('is the SHA-256 of the bytes after the header (addnet_hash_safetensors), first 12 hex digits', async () => {
    const bytes = new Uint8Array(readFileSync(resolve(FIXTURES, 'single-file/tiny-sd15-lora.safetensors')));
    const headerEnd = 8 + Number(new DataView(bytes.buffer).getBigUint64(0, true));
    const file = await SafetensorsFile.open(bytesByteSource(bytes), 'tiny-sd15-lora.safetensors');
    const expected = createHash('sha256').update(bytes.subarray(headerEnd)).digest('hex').slice(0, 12);
    expect(await loraShortHash(file)).toBe(expected);
    expect(expected).toBe('0f29ff38ec09');
  });

  it("takes kohya's sshs_model_hash metadata when the file has one", async () => {
    const bytes = buildSafetensors({ a: { dtype: 'F32', shape: [1], bytes: f32Bytes([1]) } }, undefined, {
      sshs_model_hash: 'abcdef0123456789',
    });
    expect(await loraShortHash(await SafetensorsFile.open(bytesByteSource(bytes), 'x'))).toBe('abcdef012345');
  });

  it('writes NAME: hash pairs, names without : and ,', () => {
    expect(
      loraHashesText([
        { name: 'a:b,c', hash: '0123456789ab' },
        { name: 'x', hash: 'ffffffffffff' },
      ]),
    ).toBe('abc: 0123456789ab, x: ffffffffffff');
  });
});
