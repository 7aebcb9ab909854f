import 'fake-indexeddb/auto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SdError } from '../../../src/core/errors.ts';
import { LoraHost } from '../../../workers/lora-host.ts';
import { FIXTURES } from '../../fixtures.ts';

const LORA = new Blob([readFileSync(resolve(FIXTURES, 'single-file', 'tiny-sd15-lora.safetensors'))]);

describe('LoraHost', () => {
  it('resolves prompt tags against the stored LoRAs; the key names the files, not the multipliers', async () => {
    const host = new LoraHost();
    expect(await host.resolve('a lighthouse')).toBeUndefined();
    await expect(host.resolve('a <lora:tiny-sd15-lora:0.8>')).rejects.toSatisfy(
      (e: unknown) =>
        e instanceof SdError &&
        e.code === 'missing-file' &&
        /Unknown LoRA "tiny-sd15-lora".*Add the file in the LoRA panel/.test(e.message),
    );
    await host.add({ file: LORA, fileName: 'tiny-sd15-lora.safetensors' });
    const a = await host.resolve('a <lora:tiny-sd15-lora:0.8>');
    const b = await host.resolve('a <lora:tiny-sd15-lora:0.5:0.25>');
    expect(a?.multipliers).toEqual([{ te: 0.8, unet: 0.8 }]);
    expect(b?.multipliers).toEqual([{ te: 0.5, unet: 0.25 }]);
    expect(a?.key).toBe(b?.key);
    expect(a?.hashes).toMatch(/^tiny-sd15-lora: [0-9a-f]{12}$/);
    await expect(host.resolve('a <lora:tiny-sd15-lora:strong>')).rejects.toThrow(/not a number/);
    const [entry] = await host.list(undefined);
    expect(entry).toMatchObject({ name: 'tiny-sd15-lora', sizeBytes: LORA.size });
    expect(entry!.moduleCount).toBeGreaterThan(0);
    expect(entry!.matchedModules).toBeUndefined();
    await host.delete('tiny-sd15-lora');
    expect(await host.list(undefined)).toEqual([]);
  });
});
