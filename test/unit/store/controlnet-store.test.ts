import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SdError } from '../../../src/core/errors.ts';
import { ControlNetStore } from '../../../src/core/store/controlnet-store.ts';
import { FIXTURES } from '../../fixtures.ts';
import { createKv, createTestStore, type KvKind } from './store-harness.ts';

const SINGLE_FILE = resolve(FIXTURES, 'single-file');
const FILE = new Blob([readFileSync(resolve(SINGLE_FILE, 'tiny-controlnet.safetensors'))]);
const FOLDER_WEIGHTS = new Blob([
  readFileSync(resolve(SINGLE_FILE, 'tiny-controlnet-diffusers', 'diffusion_pytorch_model.safetensors')),
]);
const CONFIG = new Blob([readFileSync(resolve(SINGLE_FILE, 'tiny-controlnet-diffusers', 'config.json'))]);

function rejectsWith(code: string, message: RegExp) {
  return (e: unknown) => e instanceof SdError && e.code === code && message.test(e.message);
}

describe.each<KvKind>(['memory', 'indexeddb'])('ControlNetStore (%s)', (kind) => {
  it('stores a file under its name or the one given, replaces it, opens and deletes it', async () => {
    const kv = createKv(kind);
    const store = new ControlNetStore(createTestStore(kv));
    const first = await store.add([{ path: 'tiny-controlnet.safetensors', blob: FILE }]);
    expect(first).toMatchObject({ name: 'tiny-controlnet', sizeBytes: FILE.size, hasConfig: false });
    await store.add([{ path: 'x/tiny-controlnet.safetensors', blob: FILE }], 'canny');
    const again = await store.add([{ path: 'tiny-controlnet.safetensors', blob: FILE }]);
    expect(again.updatedAtMs).toBeGreaterThanOrEqual(first.updatedAtMs);
    // a fresh store over the same database: what a reload sees
    const reloaded = new ControlNetStore(createTestStore(kv));
    expect((await reloaded.list()).map((c) => [c.name, c.sizeBytes])).toEqual([
      ['canny', FILE.size],
      ['tiny-controlnet', FILE.size],
    ]);
    const opened = await reloaded.open('canny');
    expect(opened).toMatchObject({ name: 'canny', weights: { name: 'canny' } });
    expect(opened!.config).toBeUndefined();
    expect(await reloaded.open('other')).toBeUndefined();
    await reloaded.delete('canny');
    expect((await reloaded.list()).map((c) => c.name)).toEqual(['tiny-controlnet']);
  });

  it("keeps a diffusers folder's config, preferring its float16 weights, under the folder's name", async () => {
    const store = new ControlNetStore(createTestStore(createKv(kind)));
    const info = await store.add([
      { path: 'cn/config.json', blob: CONFIG },
      { path: 'cn/diffusion_pytorch_model.safetensors', blob: FOLDER_WEIGHTS },
      { path: 'cn/diffusion_pytorch_model.fp16.safetensors', blob: FOLDER_WEIGHTS },
      { path: 'cn/README.md', blob: new Blob(['notes']) },
    ]);
    expect(info).toMatchObject({ name: 'cn', hasConfig: true, sizeBytes: FOLDER_WEIGHTS.size + CONFIG.size });
    expect(info.description).toBe('diffusers ControlNet folder, float32');
    const opened = await store.open('cn');
    expect(opened?.config).toMatchObject({ label: 'cn/config.json', json: { _class_name: 'ControlNetModel' } });
  });

  it('refuses what cannot be one ControlNet, storing nothing', async () => {
    const store = new ControlNetStore(createTestStore(createKv(kind)));
    await expect(
      store.add([
        { path: 'a.safetensors', blob: FILE },
        { path: 'b.safetensors', blob: FILE },
      ]),
    ).rejects.toSatisfy(rejectsWith('bad-argument', /^Several \.safetensors files \(a\.safetensors, b\.safetensors\)/));
    await expect(store.add([{ path: 'diffusion_pytorch_model.safetensors', blob: FOLDER_WEIGHTS }])).rejects.toSatisfy(
      rejectsWith('bad-argument', /is the weights file of a diffusers ControlNet folder.*give the ControlNet a name/),
    );
    await expect(store.add([{ path: 'tiny-controlnet.safetensors', blob: FILE }], 'a/b')).rejects.toSatisfy(
      rejectsWith('bad-argument', /^"a\/b" cannot name a ControlNet/),
    );
    await expect(
      store.add([
        { path: 'cn/config.json', blob: new Blob(['{ not json']) },
        { path: 'cn/diffusion_pytorch_model.safetensors', blob: FOLDER_WEIGHTS },
      ]),
    ).rejects.toSatisfy(rejectsWith('unsupported-model', /^cn\/config\.json is not valid JSON/));
    expect(await store.list()).toEqual([]);
  });
});
