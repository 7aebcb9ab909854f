import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SdError } from '../../../src/core/errors.ts';
import { LoraStore } from '../../../src/core/store/lora-store.ts';
import { FIXTURES } from '../../fixtures.ts';
import { createKv, createTestStore, type KvKind } from './store-harness.ts';

const LORA = new Blob([readFileSync(resolve(FIXTURES, 'single-file', 'tiny-sd15-lora.safetensors'))]);

describe.each<KvKind>(['memory', 'indexeddb'])('LoraStore (%s)', (kind) => {
  it('stores a LoRA under its file name, lists, opens and deletes it', async () => {
    const kv = createKv(kind);
    const loras = new LoraStore(createTestStore(kv));
    const added = await loras.add('tiny-sd15-lora.safetensors', LORA);
    expect(added).toMatchObject({ name: 'tiny-sd15-lora', sizeBytes: LORA.size });
    // a fresh store over the same database: what a reload sees
    const again = new LoraStore(createTestStore(kv));
    expect((await again.list()).map((l) => [l.name, l.sizeBytes])).toEqual([['tiny-sd15-lora', LORA.size]]);
    const file = await again.open('tiny-sd15-lora');
    expect(file?.name).toBe('tiny-sd15-lora');
    expect(file!.modules.size).toBeGreaterThan(0);
    expect(await again.open('other')).toBeUndefined();
    await again.delete('tiny-sd15-lora');
    expect(await again.list()).toEqual([]);
  });

  it('refuses files that are no LoRA', async () => {
    const loras = new LoraStore(createTestStore(createKv(kind)));
    await expect(loras.add('notes.txt', new Blob(['x']))).rejects.toThrow(/expected a \.safetensors file/);
    const empty = new TextEncoder().encode('{}       ');
    const header = new Uint8Array(8 + empty.length);
    new DataView(header.buffer).setBigUint64(0, BigInt(empty.length), true);
    header.set(empty, 8);
    await expect(loras.add('empty.safetensors', new Blob([header]))).rejects.toSatisfy(
      (e: unknown) => e instanceof SdError && /holds no LoRA modules/.test(e.message),
    );
    expect(await loras.list()).toEqual([]);
  });
});
