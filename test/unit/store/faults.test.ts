import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ModelSourceDescriptor } from '../../../src/core/store/model-source.ts';
import type { HttpFetch } from '../../../src/core/store/platform.ts';
import { ModelServer, type Faults } from './model-server.ts';
import { createKv, createTestStore, expectExactCopy, hubSource, modelBytes, urlSource } from './store-harness.ts';

const server = new ModelServer();
const ratios: string[] = [];
beforeAll(() => server.start());
afterAll(async () => {
  await server.stop();
  console.log(`bytes served / model size:\n${ratios.join('\n')}`);
});
beforeEach(() => server.reset());

type Mount = 'hub' | 'static' | 'manifest';

function sourceFor(mount: Mount, model: string): ModelSourceDescriptor {
  return mount === 'hub' ? hubSource(server, model) : urlSource(server, mount, model);
}

interface Case {
  name: string;
  faults: Partial<Faults>;
  mounts: Mount[];
  /** Check on the request log, beyond the exact copy and the byte budget. */
  check?: () => void;
}

const cases: Case[] = [
  {
    name: 'connections cut at random offsets',
    faults: { cuts: 6, minBodyBytes: 100_000 },
    mounts: ['hub', 'static'],
    // every cut is resumed with a Range request from the first byte not received
    check: () => expect(server.log.filter((r) => r.status === 206).length).toBeGreaterThanOrEqual(6),
  },
  {
    name: 'one 500',
    faults: { errors500: 1, pathSuffix: 'unet/model.onnx' },
    mounts: ['hub', 'static'],
    check: () => expect(server.log.filter((r) => r.status === 500)).toHaveLength(1),
  },
  {
    name: 'one HTML page with status 200 for a weights file',
    faults: { htmlPages: 1, pathSuffix: 'text_encoder/model.onnx' },
    mounts: ['hub', 'static'],
  },
  {
    name: 'one HTML page with status 200 for model_index.json',
    faults: { htmlPages: 1, pathSuffix: 'model_index.json' },
    mounts: ['hub', 'static'],
  },
  {
    name: 'one corrupted byte in an LFS file (sha256)',
    faults: { corruptions: 1, pathSuffix: 'text_encoder/model.onnx' },
    mounts: ['hub', 'manifest'],
    // the corrupted file is discarded and fetched again, whole
    check: () => expect(server.bytesFor('text_encoder/model.onnx')).toBe(2 * 1682624),
  },
  {
    name: 'one corrupted byte in a small file (git blob id)',
    faults: { corruptions: 1, pathSuffix: 'tokenizer/vocab.json' },
    mounts: ['hub'],
  },
  {
    name: 'a server ignoring Range, with a cut connection',
    faults: { ignoreRange: true, cuts: 1, minBodyBytes: 1_000_000 },
    mounts: ['hub', 'static'],
    check: () =>
      expect(server.log.filter((r) => r.range !== undefined && r.status === 200).length).toBeGreaterThanOrEqual(1),
  },
];

describe('downloads under injected faults end with the exact bytes, within 1.5x the model size', () => {
  for (const c of cases) {
    for (const mount of c.mounts) {
      it(`${c.name} (${mount})`, async () => {
        const model = 'tiny-sd15';
        Object.assign(server.faults, c.faults);
        const store = createTestStore(createKv('indexeddb'));
        const stored = await store.download(sourceFor(mount, model));
        await expectExactCopy(stored, server, model);
        expect(server.faults).toMatchObject({ cuts: 0, errors500: 0, htmlPages: 0, corruptions: 0 }); // every fault was hit
        c.check?.();
        const ratio = server.bytesSent / modelBytes(server, model);
        ratios.push(`  ${c.name} (${mount}): ${ratio.toFixed(3)}`);
        expect(ratio).toBeLessThanOrEqual(1.5);
      });
    }
  }

  it('all faults together on the SDXL fixture (hub)', async () => {
    Object.assign(server.faults, { cuts: 5, errors500: 1, htmlPages: 1, corruptions: 1, minBodyBytes: 200_000 });
    const store = createTestStore(createKv('memory'));
    const stored = await store.download(hubSource(server, 'tiny-sdxl'));
    await expectExactCopy(stored, server, 'tiny-sdxl');
    const ratio = server.bytesSent / modelBytes(server, 'tiny-sdxl');
    ratios.push(`  all faults together, tiny-sdxl (hub): ${ratio.toFixed(3)}`);
    expect(ratio).toBeLessThanOrEqual(1.5);
  });
});

describe('servers that hide or omit headers', () => {
  it('resumes where Content-Range is unreadable (a cross-origin host that does not expose it)', async () => {
    const hidden: HttpFetch = async (url, init) => {
      const response = await fetch(url, { method: init?.method ?? 'GET', headers: init?.headers ?? {} });
      const headers = new Headers(response.headers);
      headers.delete('content-range');
      return new Response(init?.method === 'HEAD' ? null : response.body, { status: response.status, headers });
    };
    Object.assign(server.faults, { cuts: 4, minBodyBytes: 500_000 });
    const stored = await createTestStore(createKv('memory'), { fetch: hidden }).download(
      hubSource(server, 'tiny-sd15'),
    );
    await expectExactCopy(stored, server, 'tiny-sd15');
    expect(server.log.filter((r) => r.status === 206).length).toBeGreaterThanOrEqual(4);
    expect(server.bytesSent / modelBytes(server, 'tiny-sd15')).toBeLessThan(1.05);
  });

  it('stores files whose size is learned only at the end of the body, also across cut connections', async () => {
    // like a host sending chunked transfer encoding: HEAD and GET without Content-Length
    const noLength: HttpFetch = async (url, init) => {
      const response = await fetch(url, { method: init?.method ?? 'GET', headers: init?.headers ?? {} });
      const headers = new Headers(response.headers);
      headers.delete('content-length');
      headers.delete('content-range');
      if (response.status === 206) throw new Error('unexpected range response');
      return new Response(init?.method === 'HEAD' ? null : response.body, { status: response.status, headers });
    };
    Object.assign(server.faults, { cuts: 2, minBodyBytes: 500_000, ignoreRange: true });
    const stored = await createTestStore(createKv('memory'), { fetch: noLength }).download(
      urlSource(server, 'static', 'tiny-sd15'),
    );
    await expectExactCopy(stored, server, 'tiny-sd15');
    const ratio = server.bytesSent / modelBytes(server, 'tiny-sd15');
    ratios.push(`  no Content-Length, Range ignored, 2 cuts (static): ${ratio.toFixed(3)}`);
    expect(ratio).toBeLessThanOrEqual(1.5);
  });
});

describe('failures that retries cannot fix end with a clear error and keep what is stored', () => {
  it('gives up after the retry limit with a network error naming the file, then resumes', async () => {
    const kv = createKv('indexeddb');
    Object.assign(server.faults, { errors500: 100, pathSuffix: 'unet/weights.pb' });
    const error = await createTestStore(kv, { retry: { maxRetries: 2, baseDelayMs: 1, maxDelayMs: 1 } })
      .download(hubSource(server, 'tiny-sd15'))
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'network' });
    expect(String((error as Error).message)).toContain('unet/weights.pb');
    expect(server.log.filter((r) => r.status === 500)).toHaveLength(3);
    const fetchedFiles = (): Set<string> =>
      new Set(
        server.log
          .filter((r) => !r.url.startsWith('/api/') && r.bodyBytes > 0)
          .map((r) => r.url.replace(/^.*\/(main|tiny-sd15)\//, '')),
      );
    const firstRun = fetchedFiles();
    server.reset();
    const stored = await createTestStore(kv).download(hubSource(server, 'tiny-sd15'));
    await expectExactCopy(stored, server, 'tiny-sd15');
    // the second run fetches the failed file and those after it, nothing the first run stored (model_index.json comes with the listing)
    const secondRun = fetchedFiles();
    expect(secondRun.has('unet/weights.pb')).toBe(true);
    expect([...secondRun].filter((path) => firstRun.has(path))).toEqual(['model_index.json']);
  });

  it('fails with an integrity error when every copy of a file is corrupted, storing none of it', async () => {
    const kv = createKv('memory');
    Object.assign(server.faults, { corruptions: 100, pathSuffix: 'vae_decoder/model.onnx' });
    const error = await createTestStore(kv, { maxIntegrityRetries: 1 })
      .download(hubSource(server, 'tiny-sd15'))
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'integrity' });
    expect(String((error as Error).message)).toMatch(/vae_decoder\/model\.onnx.*SHA-256/);
    expect((await kv.keys()).some((k) => k[0] === 'chunk' && k[2] === 'vae_decoder/model.onnx')).toBe(false);
  });

  it('reports a missing repository as missing-file', async () => {
    const error = await createTestStore(createKv('memory'))
      .download({ ...hubSource(server, 'tiny-sd15'), repo: 'test/no-such-model' })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'missing-file' });
  });
});

describe('stalled connections are closed after the stall timeout and retried', () => {
  const STALL_MS = 300;
  const stallRetry = { stallTimeoutMs: STALL_MS, baseDelayMs: 1, maxDelayMs: 4 };

  const stalls: {
    name: string;
    faults: Partial<Faults>;
    check?: (weights: { range?: string; status: number }[]) => void;
  }[] = [
    { name: 'nothing at all (no status line)', faults: { hangStage: 'before-headers' } },
    { name: 'headers, then nothing', faults: { hangStage: 'after-headers' } },
    {
      name: '100 kB of the body, then nothing',
      faults: { hangStage: 'after-headers', hangAfterBytes: 100_000 },
      // the retry asks for the rest only: the bytes received before the silence are kept
      check: (weights) => expect(weights.map((r) => r.range)).toContain('bytes=100000-'),
    },
  ];
  for (const s of stalls) {
    it(`a response that sends ${s.name}`, async () => {
      Object.assign(server.faults, { hangs: 1, pathSuffix: 'unet/weights.pb', ...s.faults });
      const startMs = Date.now();
      const stored = await createTestStore(createKv('memory'), { retry: stallRetry }).download(
        hubSource(server, 'tiny-sd15'),
      );
      await expectExactCopy(stored, server, 'tiny-sd15');
      expect(server.faults.hangs).toBe(0);
      // an LFS file: the Hub's resolve URL redirects to /cdn/ for each attempt
      const weights = server.log.filter((r) => r.url.startsWith('/cdn/') && r.url.endsWith('unet/weights.pb'));
      expect(weights).toHaveLength(2);
      s.check?.(weights);
      expect(Date.now() - startMs).toBeGreaterThanOrEqual(STALL_MS);
      expect(server.bytesSent / modelBytes(server, 'tiny-sd15')).toBeLessThan(1.05);
    });
  }

  it('does not count the time spent storing a chunk as silence', async () => {
    const kv = createKv('memory');
    const slowKv = {
      ...kv,
      async set(key: readonly (string | number)[], value: unknown): Promise<void> {
        // storing each chunk of this file takes longer than the stall timeout
        if (key[0] === 'chunk' && key[2] === 'text_encoder/model.onnx')
          await new Promise((done) => setTimeout(done, STALL_MS + 150));
        return kv.set(key, value);
      },
    };
    const stored = await createTestStore(slowKv, { retry: { ...stallRetry, maxRetries: 0 } }).download(
      hubSource(server, 'tiny-sd15'),
    );
    await expectExactCopy(stored, server, 'tiny-sd15');
    expect(
      server.log.filter((r) => r.url.startsWith('/cdn/') && r.url.endsWith('text_encoder/model.onnx')),
    ).toHaveLength(1);
  });

  it('reports a connection that stays silent through every retry, naming the host, the timeout and the tries; stored files stay', async () => {
    const kv = createKv('memory');
    Object.assign(server.faults, { hangs: 100, pathSuffix: 'unet/weights.pb' });
    const startMs = Date.now();
    const error = await createTestStore(kv, { retry: { ...stallRetry, maxRetries: 2 } })
      .download(hubSource(server, 'tiny-sd15'))
      .catch((e: unknown) => e);
    const elapsedMs = Date.now() - startMs;
    expect(error).toMatchObject({ code: 'network' });
    const host = server.baseUrl.replace('http://', '');
    expect((error as Error).message).toMatch(
      new RegExp(
        `^No data from ${host} for 0\\.3 s, 3 tries \\(unet/weights\\.pb of test/tiny-sd15.*\\): check the connection, then press Generate again \\(or run the command again\\) to resume; stored chunks are kept\\.$`,
      ),
    );
    expect(server.log.filter((r) => r.url.startsWith('/cdn/') && r.url.endsWith('unet/weights.pb'))).toHaveLength(3);
    // three silent attempts, not one hanging forever
    expect(elapsedMs).toBeGreaterThanOrEqual(3 * STALL_MS);
    expect(elapsedMs).toBeLessThan(3 * STALL_MS + 5_000);
    const firstRun = new Set(server.log.filter((r) => r.bodyBytes > 0 && !r.url.startsWith('/api/')).map((r) => r.url));
    server.reset();
    await expectExactCopy(await createTestStore(kv).download(hubSource(server, 'tiny-sd15')), server, 'tiny-sd15');
    const again = server.log.filter(
      (r) => r.bodyBytes > 0 && firstRun.has(r.url) && !r.url.endsWith('model_index.json'),
    );
    expect(again.map((r) => r.url)).toEqual([]);
  });
});
