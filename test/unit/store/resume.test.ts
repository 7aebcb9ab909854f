import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createAbortSource } from '../../../src/core/store/abort.ts';
import { createLocalLocks } from '../../../src/core/store/locks.ts';
import { labelOf, modelIdOf, type ModelSourceDescriptor } from '../../../src/core/store/model-source.ts';
import type { KeyValueStore } from '../../../src/core/store/platform.ts';
import { chunkKey, fileKey, storedBytes, type FileRecord } from '../../../src/core/store/records.ts';
import { ModelServer } from './model-server.ts';
import {
  createKv,
  createTestStore,
  expectExactCopy,
  hubSource,
  modelBytes,
  TEST_CHUNK_BYTES,
  urlSource,
} from './store-harness.ts';

const server = new ModelServer();
beforeAll(() => server.start());
afterAll(() => server.stop());
beforeEach(() => server.reset());

const MODEL = 'tiny-sd15';

/** Pauses a download (aborts it) once `fraction` of the model is stored. */
async function downloadUntil(
  kv: KeyValueStore,
  fraction: number,
  source: ModelSourceDescriptor = hubSource(server, MODEL),
): Promise<void> {
  const abort = createAbortSource();
  const stopAt = modelBytes(server, MODEL) * fraction;
  const error = await createTestStore(kv, { progressIntervalMs: 0 })
    .download(source, { signal: abort.signal, onProgress: (p) => p.loadedBytes > stopAt && abort.abort() })
    .catch((e: unknown) => e);
  expect(error).toMatchObject({ code: 'cancelled' });
}

async function fileRecords(kv: KeyValueStore, modelId: string): Promise<Map<string, FileRecord>> {
  const records = new Map<string, FileRecord>();
  for (const key of await kv.keys()) {
    if (key[0] === 'file' && key[1] === modelId) records.set(key[2] as string, (await kv.get(key)) as FileRecord);
  }
  return records;
}

/** Body bytes the server sent per fixture file in the current log. */
function servedPerFile(): Map<string, number> {
  const served = new Map<string, number>();
  for (const path of server.files(MODEL).keys()) served.set(path, server.bytesFor(`/${path}`));
  return served;
}

describe('resume', () => {
  it('continues a paused download where it stopped, within a chunk, never fetching a stored byte again', async () => {
    const kv = createKv('indexeddb');
    const id = modelIdOf(hubSource(server, MODEL));
    await downloadUntil(kv, 0.45);
    const atPause = await fileRecords(kv, id);
    const partial = [...atPause.values()].filter((r) => r.state === 'partial');
    expect(partial.length).toBeGreaterThan(0);
    // the unfinished chunk's bytes were kept on pause, and the hasher state after each stored chunk
    expect(partial.some((r) => r.partialBytes > 0)).toBe(true);
    expect(partial.filter((r) => r.storedChunks > 0).every((r) => r.hashState !== undefined)).toBe(true);
    server.reset();
    await expectExactCopy(await createTestStore(kv).download(hubSource(server, MODEL)), server, MODEL);
    for (const [path, served] of servedPerFile()) {
      if (path === 'model_index.json') continue; // fetched again with the listing, to plan
      const size = server.files(MODEL).get(path)?.bytes.length ?? 0;
      expect(served, path).toBe(size - storedBytes(atPause.get(path)));
    }
    expect(
      server.log.some(
        (r) => r.status === 206 && Number(/bytes=(\d+)-/.exec(r.range ?? '')?.[1]) % TEST_CHUNK_BYTES !== 0,
      ),
    ).toBe(true);
  });

  it('restarts at the last stored chunk when the unfinished chunk was lost (tab closed), and re-hashes when the saved hasher state is unusable', async () => {
    const kv = createKv('memory');
    const id = modelIdOf(urlSource(server, 'static', MODEL));
    await downloadUntil(kv, 0.6, urlSource(server, 'static', MODEL));
    const records = await fileRecords(kv, id);
    const partial = [...records.values()].find((r) => r.state === 'partial' && r.storedChunks > 0);
    expect(partial).toBeDefined();
    const record = partial as FileRecord;
    const path = record.spec.path;
    // what a closed tab leaves: no pending bytes; and a hasher state another hash-wasm build cannot load
    if (record.partialBytes > 0) await kv.del(chunkKey(id, path, record.storedChunks));
    await kv.set(fileKey(id, path), { ...record, partialBytes: 0, hashState: { sha256: new Uint8Array([1, 2, 3]) } });
    server.reset();
    await expectExactCopy(await createTestStore(kv).download(urlSource(server, 'static', MODEL)), server, MODEL);
    const size = server.files(MODEL).get(path)?.bytes.length ?? 0;
    expect(server.bytesFor(`/${path}`)).toBe(size - record.storedChunks * TEST_CHUNK_BYTES);
    expect(server.log.find((r) => r.url.endsWith(`/${path}`) && r.method === 'GET')?.range).toBe(
      `bytes=${record.storedChunks * TEST_CHUNK_BYTES}-`,
    );
  });

  it('pauses, resumes and cancels through a DownloadJob', async () => {
    const kv = createKv('indexeddb');
    const total = modelBytes(server, MODEL);
    let paused: Promise<void> | undefined;
    const store = createTestStore(kv, { progressIntervalMs: 0 });
    const job: ReturnType<typeof store.startDownload> = store.startDownload(hubSource(server, MODEL), {
      onProgress: (p) => {
        if (p.loadedBytes > total / 3 && !paused) paused = job?.pause();
      },
    });
    await new Promise((resolve) => setTimeout(resolve, 10));
    while (!paused) await new Promise((resolve) => setTimeout(resolve, 5));
    await paused;
    expect(job.state).toBe('paused');
    const storedAtPause = (await store.list())[0]?.storedBytes ?? 0;
    expect(storedAtPause).toBeGreaterThan(total / 3);
    expect(storedAtPause).toBeLessThan(total);
    job.resume();
    await expectExactCopy(await job.done, server, MODEL);
    expect(job.state).toBe('done');
    expect(server.bytesSent / total).toBeLessThan(1.5);

    const other = createTestStore(kv, { progressIntervalMs: 0 });
    let cancelled: Promise<void> | undefined;
    const job2 = other.startDownload(urlSource(server, 'static', MODEL), {
      onProgress: (p) => {
        if (p.loadedBytes > total / 2) cancelled ??= job2.cancel();
      },
    });
    await expect(job2.done).rejects.toMatchObject({ code: 'cancelled' });
    await cancelled;
    expect(job2.state).toBe('cancelled');
    expect((await other.list()).map((m) => m.label)).toEqual([labelOf(hubSource(server, MODEL))]);
  });
});

describe('eviction repair', () => {
  it('fetches only the evicted chunks at load time, with bounded Range requests', async () => {
    const kv = createKv('indexeddb');
    const source = hubSource(server, MODEL);
    const id = modelIdOf(source);
    await createTestStore(kv).download(source);
    const evicted: [string, number][] = [
      ['unet/weights.pb', 1],
      ['unet/weights.pb', 2],
      ['unet/weights.pb', 6],
      ['tokenizer/vocab.json', 0],
    ];
    for (const [path, index] of evicted) await kv.del(chunkKey(id, path, index));
    server.reset();
    const offline = await createTestStore(kv)
      .open(id, { repair: false })
      .catch((e: unknown) => e);
    expect(offline).toMatchObject({ code: 'missing-file' });
    expect(String((offline as Error).message)).toContain('tokenizer/vocab.json, unet/weights.pb are incomplete');
    const stored = await createTestStore(kv).open(id);
    const size = (path: string): number => server.files(MODEL).get(path)?.bytes.length ?? 0;
    const chunkSize = (path: string, i: number): number =>
      Math.min(TEST_CHUNK_BYTES, size(path) - i * TEST_CHUNK_BYTES);
    expect(server.bytesSent).toBe(evicted.reduce((n, [path, i]) => n + chunkSize(path, i), 0));
    expect(server.log.filter((r) => r.method === 'GET' && r.status === 206).map((r) => r.range)).toEqual([
      `bytes=0-${TEST_CHUNK_BYTES - 1}`,
      `bytes=${TEST_CHUNK_BYTES}-${3 * TEST_CHUNK_BYTES - 1}`,
      `bytes=${6 * TEST_CHUNK_BYTES}-${size('unet/weights.pb') - 1}`,
    ]);
    await expectExactCopy(stored, server, MODEL);
  });

  it('repairs through a server that ignores Range, taking only the missing chunk from the full body', async () => {
    const kv = createKv('memory');
    const source = urlSource(server, 'static', MODEL);
    await createTestStore(kv).download(source);
    await kv.del(chunkKey(modelIdOf(source), 'unet/model.onnx', 2));
    server.reset();
    server.faults.ignoreRange = true;
    await expectExactCopy(await createTestStore(kv).ensure(source), server, MODEL);
  });
});

describe('quota, persistence and locks', () => {
  it('refuses a download that does not fit, naming needed and available bytes and what to delete', async () => {
    const kv = createKv('memory');
    await createTestStore(kv).download(hubSource(server, 'tiny-sd2-v'));
    server.reset();
    const storage = { estimate: async () => ({ usage: 8_000_000, quota: 9_000_000 }), persist: async () => true };
    const error = await createTestStore(kv, { storage })
      .download(hubSource(server, MODEL))
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'quota' });
    const message = String((error as Error).message);
    expect(message).toContain('needs 6.45 MB more storage');
    expect(message).toContain('only 1.00 MB more');
    expect(message).toContain(`test/tiny-sd2-v (${server.baseUrl}) (6.42 MB)`);
    // nothing but the listing and model_index.json was fetched
    expect(server.log.filter((r) => !r.url.startsWith('/api/')).map((r) => r.url)).toEqual([
      `/test/${MODEL}/resolve/main/model_index.json`,
    ]);
  });

  it('asks for persistent storage before downloading', async () => {
    let persistCalls = 0;
    const storage = {
      estimate: async () => ({ usage: 0, quota: 10 ** 10 }),
      persisted: async () => false,
      persist: async () => (persistCalls++, true),
    };
    await createTestStore(createKv('memory'), { storage }).download(urlSource(server, 'manifest', MODEL));
    expect(persistCalls).toBe(1);
  });

  it('lets two stores (tabs) download the same model at once without fetching a file twice', async () => {
    const kv = createKv('indexeddb');
    const locks = createLocalLocks();
    const source = hubSource(server, MODEL);
    const [a, b] = await Promise.all([
      createTestStore(kv, { locks }).download(source),
      createTestStore(kv, { locks }).download(source),
    ]);
    await expectExactCopy(a, server, MODEL);
    await expectExactCopy(b, server, MODEL);
    for (const [path, served] of servedPerFile()) {
      const size = server.files(MODEL).get(path)?.bytes.length ?? 0;
      // model_index.json is read by both while planning; every other file is fetched once
      expect(served, path).toBe(path === 'model_index.json' ? 2 * size : size);
    }
  });
});
