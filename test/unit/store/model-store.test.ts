import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { isSdError } from '../../../src/core/errors.ts';
import { externalDataBlobs } from '../../../src/core/store/blob-model-files.ts';
import { modelIdOf } from '../../../src/core/store/model-source.ts';
import type { StoreProgress } from '../../../src/core/store/progress.ts';
import { createBrowserModelStore } from '../../../src/platform/store/browser-platform.ts';
import { createIdbKeyValueStore, MODEL_STORE_DB } from '../../../src/platform/store/idb-kv.ts';
import { ModelServer } from './model-server.ts';
import {
  createKv,
  createTestStore,
  expectExactCopy,
  hubSource,
  modelBytes,
  urlSource,
  type KvKind,
} from './store-harness.ts';

const server = new ModelServer();
beforeAll(() => server.start());
afterAll(() => server.stop());
beforeEach(() => server.reset());

describe.each<KvKind>(['indexeddb', 'memory'])('ModelStore over %s', (kvKind) => {
  it('downloads a Hugging Face repository through the tree API and resolve URLs, byte for byte, each byte once', async () => {
    const store = createTestStore(createKv(kvKind));
    const stored = await store.download(hubSource(server, 'tiny-sd15'));
    await expectExactCopy(stored, server, 'tiny-sd15');
    const listingPages = server.log.filter((r) =>
      r.url.startsWith('/api/models/test/tiny-sd15/tree/main?recursive=true'),
    );
    expect(listingPages.length).toBeGreaterThan(1); // the listing is paginated through Link headers
    // model_index.json is fetched once while planning and stored from that response
    expect(server.log.filter((r) => r.url.endsWith('/model_index.json'))).toHaveLength(1);
    const fileBytes = server.log.filter((r) => !r.url.startsWith('/api/')).reduce((n, r) => n + r.bodyBytes, 0);
    expect(fileBytes).toBe(modelBytes(server, 'tiny-sd15'));
    // LFS files came through the CDN redirect
    expect(server.log.some((r) => r.url === '/cdn/tiny-sd15/unet/weights.pb' && r.status === 200)).toBe(true);
  });

  it('downloads a static folder by probing the files model_index.json implies, and one with a manifest', async () => {
    const store = createTestStore(createKv(kvKind));
    await expectExactCopy(await store.download(urlSource(server, 'static', 'tiny-sdxl')), server, 'tiny-sdxl');
    expect(
      server.log.some((r) => r.method === 'HEAD' && r.url.endsWith('/unet/model.onnx_data') && r.status === 200),
    ).toBe(true);
    expect(server.log.some((r) => r.method === 'HEAD' && r.url.endsWith('/unet/weights.pb') && r.status === 404)).toBe(
      true,
    );
    server.reset();
    await expectExactCopy(await store.download(urlSource(server, 'manifest', 'tiny-sd2-v')), server, 'tiny-sd2-v');
    expect(server.log.filter((r) => r.method === 'HEAD')).toHaveLength(0);
  });

  it('fetches nothing but the listing when the model is complete, and opens offline', async () => {
    const kv = createKv(kvKind);
    const source = hubSource(server, 'tiny-sd-turbo');
    await createTestStore(kv).download(source);
    server.reset();
    await createTestStore(kv).download(source);
    expect(server.log.filter((r) => !r.url.startsWith('/api/'))).toEqual([
      expect.objectContaining({ url: '/test/tiny-sd-turbo/resolve/main/model_index.json' }),
    ]);
    server.reset();
    const offline = createTestStore(kv, {
      fetch: () => Promise.reject(new TypeError('offline')),
    });
    const stored = await offline.ensure(source);
    await expectExactCopy(stored, server, 'tiny-sd-turbo');
    expect(server.log).toHaveLength(0);
  });

  it('reports per-file and total progress with a rate and ends at the model size', async () => {
    const events: StoreProgress[] = [];
    let clock = 0;
    const store = createTestStore(createKv(kvKind), { now: () => (clock += 5), progressIntervalMs: 0 });
    await store.download(hubSource(server, 'tiny-sd15'), { onProgress: (p) => events.push(p) });
    const total = modelBytes(server, 'tiny-sd15');
    const last = events.at(-1);
    expect(last).toMatchObject({
      phase: 'done',
      loadedBytes: total,
      totalBytes: total,
      filesDone: 11,
      fileCount: 11,
      secondsLeft: 0,
    });
    const during = events.filter((e) => e.phase === 'downloading' && e.path === 'unet/weights.pb');
    expect(during.length).toBeGreaterThan(1);
    expect(during.every((e) => e.fileTotalBytes === 1692688 && e.fileLoadedBytes <= e.fileTotalBytes)).toBe(true);
    expect(events.some((e) => e.bytesPerSecond > 0 && e.secondsLeft !== undefined && e.secondsLeft > 0)).toBe(true);
    for (let i = 1; i < events.length; i++)
      expect((events[i] as StoreProgress).loadedBytes).toBeGreaterThanOrEqual(
        (events[i - 1] as StoreProgress).loadedBytes,
      );
  });

  it('lists stored models with sizes, deletes one, clears all', async () => {
    const kv = createKv(kvKind);
    const store = createTestStore(kv);
    const storage = { estimate: async () => ({ usage: 123, quota: 10 ** 9 }) };
    const withStorage = createTestStore(kv, { storage });
    await store.download(hubSource(server, 'tiny-sd15'));
    await store.download(urlSource(server, 'static', 'tiny-sd2-v'));
    const usage = await withStorage.usage();
    expect(usage.models.map((m) => [m.id, m.sizeBytes, m.storedBytes, m.isComplete]).sort()).toEqual(
      [
        [
          modelIdOf(hubSource(server, 'tiny-sd15')),
          modelBytes(server, 'tiny-sd15'),
          modelBytes(server, 'tiny-sd15'),
          true,
        ],
        [
          modelIdOf(urlSource(server, 'static', 'tiny-sd2-v')),
          modelBytes(server, 'tiny-sd2-v'),
          modelBytes(server, 'tiny-sd2-v'),
          true,
        ],
      ].sort(),
    );
    expect(usage.storedBytes).toBe(modelBytes(server, 'tiny-sd15') + modelBytes(server, 'tiny-sd2-v'));
    expect(usage).toMatchObject({ usageBytes: 123, quotaBytes: 10 ** 9 });
    await store.delete(modelIdOf(hubSource(server, 'tiny-sd15')));
    expect((await store.list()).map((m) => m.label)).toEqual([`${server.baseUrl}/static/tiny-sd2-v/`]);
    const error = await store.open(modelIdOf(hubSource(server, 'tiny-sd15'))).catch((e: unknown) => e);
    expect(isSdError(error, 'missing-file')).toBe(true);
    await store.clear();
    expect(await store.list()).toEqual([]);
    expect(await kv.keys()).toEqual([]);
  });
});

describe('browser wiring', () => {
  it('createBrowserModelStore stores in the sd-model-store IndexedDB database with 64 MiB chunks', async () => {
    const store = createBrowserModelStore();
    const stored = await store.download(urlSource(server, 'manifest', 'tiny-sd-turbo'));
    await expectExactCopy(stored, server, 'tiny-sd-turbo');
    // one chunk per fixture file at the default chunk size, in the database the page and worker share
    const kv = createIdbKeyValueStore(MODEL_STORE_DB);
    const chunkKeys = (await kv.keys()).filter((k) => k[0] === 'chunk');
    expect(chunkKeys.map((k) => k[3])).toEqual(chunkKeys.map(() => 0));
    expect(chunkKeys).toHaveLength(server.files('tiny-sd-turbo').size);
    await store.clear();
  });
});

describe('StoredModel as model files', () => {
  it('gives external weights as one Blob over the chunk Blobs, named as inside the graph', async () => {
    const store = createTestStore(createKv('indexeddb'));
    const stored = await store.download(urlSource(server, 'manifest', 'tiny-sdxl'));
    const external = await externalDataBlobs(stored, 'unet');
    expect(external.map((e) => e.path)).toEqual(['model.onnx_data']);
    const expected = server.files('tiny-sdxl').get('unet/model.onnx_data')?.bytes;
    expect(external[0]?.data.size).toBe(expected?.length);
    expect(Buffer.from(await (external[0]?.data as Blob).arrayBuffer()).equals(expected as Buffer)).toBe(true);
    expect(await externalDataBlobs(stored, 'text_encoder')).toEqual([]);
    expect(await stored.exists('vae/config.json')).toBe(false);
    expect(JSON.parse(await stored.readText('scheduler/scheduler_config.json'))._class_name).toBeTypeOf('string');
  });
});
