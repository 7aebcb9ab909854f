import { openAsBlob } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ConvertedStore } from '../../../src/core/models/component-weights.ts';
import { planLocalModel } from '../../../src/core/store/local-source.ts';
import { planRemoteModel } from '../../../src/core/store/model-plan.ts';
import { modelIdOf, parseModelSource } from '../../../src/core/store/model-source.ts';
import { openBlobModel } from '../../../src/core/store/open-blob-model.ts';
import { singleCheckpointPath } from '../../../src/core/store/local-source.ts';
import { platformFetch } from '../../../src/platform/store/browser-platform.ts';
import { FIXTURES } from '../../fixtures.ts';
import { ModelServer } from './model-server.ts';
import { createKv, createTestStore, hubSource, urlSource } from './store-harness.ts';

const server = new ModelServer();
beforeAll(() => server.start());
afterAll(() => server.stop());
beforeEach(() => server.reset());

const ctx = () => ({
  fetch: platformFetch,
  retry: { baseDelayMs: 1, maxDelayMs: 4, maxRetries: 2 } as never,
  sleep: () => Promise.resolve(),
});

/** What from_pretrained needs from tiny-sd15-diffusers, whatever else the repository holds. */
const NEEDED = [
  'model_index.json',
  'scheduler/scheduler_config.json',
  'text_encoder/config.json',
  'text_encoder/model.safetensors',
  'tokenizer/merges.txt',
  'tokenizer/special_tokens_map.json',
  'tokenizer/tokenizer_config.json',
  'tokenizer/vocab.json',
  'unet/config.json',
  'unet/diffusion_pytorch_model.safetensors',
  'vae/config.json',
  'vae/diffusion_pytorch_model.safetensors',
];
const withFp16Unet = NEEDED.map((p) =>
  p.replace('unet/diffusion_pytorch_model.safetensors', 'unet/diffusion_pytorch_model.fp16.safetensors'),
);

describe('diffusers safetensors repositories', () => {
  it('plan only what the pipeline needs from a Hub listing: fp16 variant preferred, no pickles, ONNX, safety checker or other variants', async () => {
    const plan = await planRemoteModel(ctx(), hubSource(server, 'sf-sd15-mixed'));
    expect(plan.files.map((f) => f.path).sort()).toEqual(withFp16Unet.sort());
    const unet = plan.files.find((f) => f.path.startsWith('unet/diffusion'))!;
    expect(unet.sha256).toBe(server.files('sf-sd15-mixed').get(unet.path)!.sha256);
    expect(plan.files.find((f) => f.path === 'unet/config.json')!.gitOid).toMatch(/^[0-9a-f]{40}$/);
  });

  it('plan the same files on a static host (probing) and from a picked folder', async () => {
    const fromStatic = await planRemoteModel(ctx(), urlSource(server, 'static', 'sf-sd15-mixed'));
    expect(fromStatic.files.map((f) => f.path).sort()).toEqual(withFp16Unet.sort());
    const entries = [...server.files('sf-sd15-mixed').values()].map((f) => ({
      path: `repo/${f.path}`,
      file: new Blob([new Uint8Array(f.bytes)]),
    }));
    const local = await planLocalModel(entries, 'repo');
    expect(local.files.map((f) => f.path).sort()).toEqual(withFp16Unet.sort());
  });

  it('plan sharded weights as their index and the shards it names (the index fetched once)', async () => {
    const plan = await planRemoteModel(ctx(), hubSource(server, 'sf-sd15-sharded'));
    const vae = plan.files.map((f) => f.path).filter((p) => p.startsWith('vae/'));
    expect(vae.sort()).toEqual([
      'vae/config.json',
      'vae/diffusion_pytorch_model-00001-of-00002.fp16.safetensors',
      'vae/diffusion_pytorch_model-00002-of-00002.fp16.safetensors',
      'vae/diffusion_pytorch_model.fp16.safetensors.index.json',
    ]);
    expect(plan.fetched.map((f) => f.spec.path).sort()).toEqual([
      'model_index.json',
      'vae/diffusion_pytorch_model.fp16.safetensors.index.json',
    ]);
  });

  it('download into the store and open as a safetensors folder whose graphs build from the stored Blobs', async () => {
    const store = createTestStore(createKv('indexeddb'));
    const stored = await store.download(hubSource(server, 'sf-sd15-sharded'));
    const model = await openBlobModel(stored, { convertedStore: store.convertedFiles(stored.id) });
    expect(model.description).toMatch(/safetensors folder/);
    const vae = (await model.files.componentGraph!('vae_decoder'))!;
    expect(vae.externalData.map((d) => d.path).sort()).toEqual(['vae_decoder.weights.0', 'vae_decoder.weights.1']);
    expect(await model.files.readText('tokenizer/vocab.json')).toContain('"');
  }, 30_000);
});

describe('single files by URL', () => {
  const resolveUrl = () => `${server.baseUrl}/test/sf-sd15-file/resolve/main/tiny-sd15.safetensors`;

  it('reads .safetensors URLs as one-file models and refuses pickled ones by name', () => {
    expect(parseModelSource(resolveUrl())).toEqual({ kind: 'file', url: resolveUrl() });
    expect(modelIdOf(parseModelSource('https://host/m/x.safetensors?download=true'))).toBe(
      'file:https://host/m/x.safetensors',
    );
    expect(() => parseModelSource('https://host/m/x.ckpt')).toThrowError(/pickle/);
  });

  it('downloads a Hub resolve URL checked against the listing’s sha256, resuming after cuts', async () => {
    const store = createTestStore(createKv('memory'));
    const plan = await planRemoteModel(ctx(), parseModelSource(resolveUrl()) as never);
    expect(plan.files).toEqual([
      expect.objectContaining({
        path: 'tiny-sd15.safetensors',
        sha256: server.files('sf-sd15-file').get('tiny-sd15.safetensors')!.sha256,
        sizeBytes: 3201724,
      }),
    ]);
    server.faults.cuts = 2;
    server.faults.minBodyBytes = 100_000;
    const stored = await store.download(parseModelSource(resolveUrl()));
    expect(stored.paths()).toEqual(['tiny-sd15.safetensors']);
    const bytes = await stored.readBytes('tiny-sd15.safetensors');
    expect(Buffer.from(bytes).equals(server.files('sf-sd15-file').get('tiny-sd15.safetensors')!.bytes)).toBe(true);
  });

  it('downloads from a static host by its size, and keeps converted weights under the model', async () => {
    const store = createTestStore(createKv('indexeddb'));
    const source = parseModelSource(`${server.baseUrl}/static/sf-sd15-file/tiny-sd15.safetensors`);
    const stored = await store.download(source);
    const config = await import('../../../src/cli/fs-model-files.ts').then((m) =>
      m.folderModelFiles(join(FIXTURES, 'single-file/tiny-sd15-diffusers')),
    );
    let converted = 0;
    const counting = (inner: ConvertedStore): ConvertedStore => ({
      find: (name, n) => inner.find!(name, n),
      open: (name, n) => {
        converted += n;
        return inner.open(name, n);
      },
    });
    const open = async () =>
      openBlobModel(stored, {
        singleFile: singleCheckpointPath(stored.paths()),
        config,
        convertedStore: counting(store.convertedFiles(stored.id)),
      });
    const first = (await (await open()).files.componentGraph!('unet'))!;
    // the checkpoint is float16: the UNet's weights are widened once into the store
    expect(converted).toBeGreaterThan(0);
    const info = (await store.list()).find((m) => m.id === stored.id)!;
    expect(info.convertedBytes).toBe(converted);
    expect(info.sizeBytes).toBe(3201724 + converted);
    converted = 0;
    const again = (await (await open()).files.componentGraph!('unet'))!;
    expect(converted).toBe(0);
    const bytesOf = async (g: typeof first) => Buffer.from(await (g.externalData.at(-1)!.data as Blob).arrayBuffer());
    expect((await bytesOf(again)).equals(await bytesOf(first))).toBe(true);
    await store.delete(stored.id);
    expect(await store.list()).toEqual([]);
  });

  it('gives the builder’s clear error for a truncated file or an HTML page under a .safetensors name, converting nothing', async () => {
    const store = createTestStore(createKv('memory'));
    for (const [name, message] of [
      ['truncated.safetensors', /truncated/],
      ['page.safetensors', /HTML|not a safetensors/i],
    ] as const) {
      const source = parseModelSource(`${server.baseUrl}/test/sf-bad/resolve/main/${name}`);
      const outcome = store.download(source).then(async (stored) => {
        const converted = store.convertedFiles(stored.id);
        return openBlobModel(stored, { singleFile: name, convertedStore: converted });
      });
      await expect(outcome).rejects.toThrowError(message);
      const info = (await store.list()).find((m) => m.id === modelIdOf(source));
      expect(info?.convertedBytes ?? 0).toBe(0);
    }
  });
});

describe('single files picked from the disk', () => {
  it('are a model of one file, read in place or imported', async () => {
    const file = await openAsBlob(join(FIXTURES, 'single-file/tiny-sd15.safetensors'));
    const plan = await planLocalModel([{ path: 'tiny-sd15.safetensors', file }], 'tiny-sd15.safetensors');
    expect(plan.files).toEqual([{ path: 'tiny-sd15.safetensors', sizeBytes: 3201724 }]);
    const store = createTestStore(createKv('memory'));
    const stored = await store.importFolder([{ path: 'tiny-sd15.safetensors', file }], 'tiny-sd15.safetensors');
    expect(stored.paths()).toEqual(['tiny-sd15.safetensors']);
  });
});
