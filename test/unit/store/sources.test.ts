import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isSdError } from '../../../src/core/errors.ts';
import { layoutFiles } from '../../../src/core/models/diffusers-layout.ts';
import { looksLikeHtml, parseContentRange, parseLinkNext } from '../../../src/core/store/http.ts';
import { hubResolveUrl, listHubFiles } from '../../../src/core/store/hub-source.ts';
import { buildManifest, parseManifest } from '../../../src/core/store/manifest.ts';
import {
  DEFAULT_HUB_ENDPOINT,
  hubEndpointFromQuery,
  labelOf,
  modelIdOf,
  parseModelSource,
} from '../../../src/core/store/model-source.ts';
import type { HttpFetch } from '../../../src/core/store/platform.ts';
import { ProgressTracker, type StoreProgress } from '../../../src/core/store/progress.ts';
import { checkQuota } from '../../../src/core/store/quota.ts';
import { listStaticFiles } from '../../../src/core/store/static-source.ts';
import { platformFetch } from '../../../src/platform/store/browser-platform.ts';
import { MODELS } from '../../fixtures.ts';
import { ModelServer } from './model-server.ts';
import { hubSource } from './store-harness.ts';

const server = new ModelServer();
beforeAll(() => server.start());
afterAll(() => server.stop());

const FIXTURE_MODELS = ['tiny-sd15', 'tiny-sd2-v', 'tiny-sd-turbo', 'tiny-sdxl'];

describe('model references', () => {
  it('reads Hugging Face ids with revision and subfolder, and folder URLs', () => {
    expect(parseModelSource('org/name')).toEqual({
      kind: 'hub',
      endpoint: DEFAULT_HUB_ENDPOINT,
      repo: 'org/name',
      revision: 'main',
      subfolder: '',
    });
    expect(parseModelSource(' stable-diffusion-v1-5/stable-diffusion-v1-5@onnx ')).toMatchObject({
      repo: 'stable-diffusion-v1-5/stable-diffusion-v1-5',
      revision: 'onnx',
    });
    expect(parseModelSource('org/name/onnx/fp16@refs/pr/3', 'https://hf-mirror.com/')).toEqual({
      kind: 'hub',
      endpoint: 'https://hf-mirror.com',
      repo: 'org/name',
      revision: 'refs/pr/3',
      subfolder: 'onnx/fp16',
    });
    expect(parseModelSource('https://host/models/sd15?x=1')).toEqual({
      kind: 'url',
      baseUrl: 'https://host/models/sd15/',
    });
    for (const bad of ['just-a-name', 'org/../etc', 'ftp://host/x']) {
      expect(() => parseModelSource(bad)).toThrowError(expect.objectContaining({ code: 'bad-argument' }) as Error);
    }
    expect(() => parseModelSource('org/name', 'huggingface.co')).toThrowError(/not an http\(s\) URL/);
  });

  it('reads local:NAME as a folder the user opened, whose reference is its store id', () => {
    const source = parseModelSource(' local:tiny sd15 ');
    expect(source).toEqual({ kind: 'local', name: 'tiny sd15' });
    expect(modelIdOf(source)).toBe('local:tiny sd15');
    expect(labelOf(source)).toBe('tiny sd15');
    for (const bad of ['local:', 'local:a/b', 'local:..\\x']) {
      expect(() => parseModelSource(bad)).toThrowError(expect.objectContaining({ code: 'bad-argument' }) as Error);
    }
  });

  it('takes the Hub endpoint from the hf_endpoint URL parameter', () => {
    expect(hubEndpointFromQuery('?model=org%2Fname&hf_endpoint=https%3A%2F%2Fhf-mirror.com%2F')).toBe(
      'https://hf-mirror.com',
    );
    expect(hubEndpointFromQuery('?model=org/name')).toBe(DEFAULT_HUB_ENDPOINT);
    expect(hubEndpointFromQuery('')).toBe(DEFAULT_HUB_ENDPOINT);
  });

  it('names models stably and escapes revisions in resolve URLs as the Hub client does', () => {
    const source = parseModelSource('org/name/onnx@refs/pr/3');
    expect(modelIdOf(source)).toBe('hf:org/name/onnx@refs/pr/3');
    expect(labelOf(source)).toBe('org/name/onnx@refs/pr/3');
    expect(labelOf(parseModelSource('org/name'))).toBe('org/name');
    if (source.kind !== 'hub') throw new Error('expected a hub source');
    expect(hubResolveUrl(source, 'onnx/unet/model.onnx')).toBe(
      'https://huggingface.co/org/name/resolve/refs%2Fpr%2F3/onnx/unet/model.onnx',
    );
  });
});

describe('Hugging Face tree API', () => {
  it('lists a subfolder across pages with sizes, LFS sha256 and git blob ids', async () => {
    const files = await listHubFiles(platformFetch, { ...hubSource(server, 'tiny-sdxl'), subfolder: 'tokenizer_2' });
    const fixture = server.files('tiny-sdxl');
    expect(files.map((f) => f.path).sort()).toEqual([
      'merges.txt',
      'special_tokens_map.json',
      'tokenizer_config.json',
      'vocab.json',
    ]);
    for (const f of files) {
      expect(f).toEqual({
        path: f.path,
        url: `${server.baseUrl}/test/tiny-sdxl/resolve/main/tokenizer_2/${f.path}`,
        sizeBytes: fixture.get(`tokenizer_2/${f.path}`)?.bytes.length,
        gitOid: fixture.get(`tokenizer_2/${f.path}`)?.gitOid,
      });
    }
    const all = await listHubFiles(platformFetch, hubSource(server, 'tiny-sdxl'));
    expect(all).toHaveLength(fixture.size);
    expect(all.find((f) => f.path === 'unet/model.onnx_data')).toMatchObject({
      sizeBytes: 2169040,
      sha256: fixture.get('unet/model.onnx_data')?.sha256,
    });
  });

  it('parses Link, Content-Range and HTML sniffing', () => {
    expect(parseLinkNext('<https://huggingface.co/api/models/a/b/tree/main?cursor=abc>; rel="next"')).toBe(
      'https://huggingface.co/api/models/a/b/tree/main?cursor=abc',
    );
    expect(parseLinkNext('<https://x/prev>; rel="prev", <https://x/next>; rel="next"')).toBe('https://x/next');
    expect(parseLinkNext(null)).toBeUndefined();
    expect(parseContentRange('bytes 100-199/2000')).toEqual({ start: 100, end: 199, totalBytes: 2000 });
    expect(parseContentRange('bytes 0-0/*')).toEqual({ start: 0, end: 0 });
    expect(parseContentRange('items 1-2/3')).toBeUndefined();
    const ascii = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));
    expect(looksLikeHtml(ascii('\n <!DOCTYPE html><html>'))).toBe(true);
    expect(looksLikeHtml(ascii('<html lang="en">'))).toBe(true);
    expect(looksLikeHtml(ascii('{"_class_name": "x"}'))).toBe(false);
    expect(looksLikeHtml(readFileSync(join(MODELS, 'tiny-sd15/unet/model.onnx')).subarray(0, 64))).toBe(false);
  });
});

describe('diffusers layout and manifests', () => {
  it('derives exactly the fixture files from each model_index.json (vae split into decoder and encoder)', () => {
    for (const model of FIXTURE_MODELS) {
      const fixture = server.files(model);
      const layout = layoutFiles(readFileSync(join(MODELS, model, 'model_index.json'), 'utf8'), model);
      expect(
        layout
          .filter((f) => fixture.has(f.path))
          .map((f) => f.path)
          .sort(),
        model,
      ).toEqual([...fixture.keys()].sort());
      expect(
        layout.filter((f) => f.isRequired && !fixture.has(f.path)),
        model,
      ).toEqual([]);
    }
  });

  it('leaves out components the pipeline does not run and rejects indexes without a UNet', () => {
    const index = JSON.stringify({
      _class_name: 'OnnxStableDiffusionPipeline',
      unet: ['diffusers', 'OnnxRuntimeModel'],
      safety_checker: ['diffusers', 'OnnxRuntimeModel'],
      feature_extractor: ['transformers', 'CLIPImageProcessor'],
      text_encoder: [null, null],
    });
    const paths = layoutFiles(index, 'm').map((f) => f.path);
    expect(paths).toContain('unet/weights.pb');
    expect(
      paths.some(
        (p) => p.startsWith('safety_checker/') || p.startsWith('feature_extractor/') || p.startsWith('text_encoder/'),
      ),
    ).toBe(false);
    expect(() => layoutFiles('{"scheduler": ["diffusers", "PNDMScheduler"]}', 'm')).toThrowError(/no unet/);
    expect(() => layoutFiles('<!DOCTYPE html>', 'm')).toThrowError(
      expect.objectContaining({ code: 'missing-file' }) as Error,
    );
  });

  it('checks manifests entry by entry', () => {
    const sha = 'ab'.repeat(32);
    expect(
      parseManifest(
        JSON.stringify(
          buildManifest([
            { path: 'unet/model.onnx', size: 5, sha256: sha.toUpperCase() },
            { path: 'model_index.json', size: 3 },
          ]),
        ),
        'm',
      ),
    ).toEqual([
      { path: 'model_index.json', size: 3 },
      { path: 'unet/model.onnx', size: 5, sha256: sha },
    ]);
    const bad = (files: unknown[]): string => JSON.stringify({ format: 'sd-model-manifest', version: 1, files });
    expect(() => parseManifest(bad([{ path: '../x', size: 1 }]), 'm')).toThrowError(/files\[0\]\.path/);
    expect(() =>
      parseManifest(
        bad([
          { path: 'a', size: 1 },
          { path: 'a', size: 1 },
        ]),
        'm',
      ),
    ).toThrowError(/listed twice/);
    expect(() => parseManifest(bad([{ path: 'a', size: -1 }]), 'm')).toThrowError(/size/);
    expect(() => parseManifest(bad([{ path: 'a', size: 1, sha256: 'xyz' }]), 'm')).toThrowError(/sha256/);
    expect(() => parseManifest('{"files": []}', 'm')).toThrowError(/"format": "sd-model-manifest"/);
  });

  it('treats a host that answers HTML for every path as having no model there', async () => {
    const html: HttpFetch = async () =>
      new Response('<!DOCTYPE html><html></html>', { headers: { 'content-type': 'text/html' } });
    const error = await listStaticFiles(
      { fetch: html, retry: { maxRetries: 1, baseDelayMs: 1, maxDelayMs: 1 }, sleep: async () => undefined },
      'https://spa.example/app/',
      'https://spa.example/app/',
    ).catch((e: unknown) => e);
    expect(isSdError(error, 'missing-file')).toBe(true);
    expect(String((error as Error).message)).toContain('has no model_index.json');
  });
});

describe('progress and quota', () => {
  it('measures the rate over recent fetched bytes, not over bytes found stored', () => {
    const events: StoreProgress[] = [];
    let nowMs = 0;
    const tracker = new ProgressTracker(
      'm',
      () => nowMs,
      (p) => events.push(p),
      0,
    );
    tracker.start(10_000_000, 4_000_000, 3, 1);
    tracker.startFile('unet/model.onnx', 0, 6_000_000);
    for (let i = 0; i < 10; i++) {
      nowMs += 100;
      tracker.add(100_000); // 1 MB/s
    }
    const last = events.at(-1) as StoreProgress;
    expect(last).toMatchObject({ loadedBytes: 5_000_000, fileLoadedBytes: 1_000_000, totalBytes: 10_000_000 });
    expect(last.bytesPerSecond).toBeCloseTo(1_000_000, -3);
    expect(last.secondsLeft).toBeCloseTo(5, 1);
    tracker.finishFile(6_000_000);
    expect(events.at(-1)).toMatchObject({ loadedBytes: 10_000_000, filesDone: 2 });
  });

  it('skips the quota check where the browser gives no estimate', async () => {
    const none = async (): Promise<never[]> => [];
    await expect(checkQuota(undefined, 10 ** 12, 'm', none)).resolves.toBeUndefined();
    await expect(checkQuota({ estimate: async () => ({}) }, 10 ** 12, 'm', none)).resolves.toBeUndefined();
    await expect(checkQuota({ estimate: async () => ({ usage: 0, quota: 10 }) }, 11, 'm', none)).rejects.toMatchObject({
      code: 'quota',
      message: expect.stringContaining('Free disk space'),
    });
  });
});
