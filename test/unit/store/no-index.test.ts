import { openAsBlob, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BUNDLED_MERGES } from '../../../src/cli/bundled.ts';
import { loadModel, type LoadedModel } from '../../../src/core/models/load-model.ts';
import type { ModelFiles } from '../../../src/core/models/model-files.ts';
import { generate } from '../../../src/core/pipeline/generate.ts';
import type { GenerateRequest } from '../../../src/core/pipeline/request.ts';
import { localModelFiles, normalizeLocalEntries, type LocalFileEntry } from '../../../src/core/store/local-source.ts';
import type { StoredModel } from '../../../src/core/store/stored-model.ts';
import { MODELS } from '../../fixtures.ts';
import { ORT_WEB_SOURCE, ortWebPaths } from '../models/ort-web-layout.ts';
import { loadFixture, nodeRuntime } from '../pipeline/fixture-models.ts';
import { ModelServer } from './model-server.ts';
import { createKv, createTestStore, hubSource, urlSource } from './store-harness.ts';

const server = new ModelServer();
beforeAll(() => server.start());
afterAll(() => server.stop());
beforeEach(() => server.reset());

/** The onnxruntime web sample's layout of the tiny SD-Turbo, served by the test server. */
const NO_INDEX = 'sd-turbo-ort-web';
const merges = readFileSync(BUNDLED_MERGES, 'utf8');

const request: GenerateRequest = {
  prompt: 'a small red boat',
  negativePrompt: '',
  sampler: null,
  steps: 1,
  cfgScale: 0,
  seed: 99n,
  width: 64,
  height: 64,
  batchSize: 1,
  rng: 'cpu',
  promptSyntax: 'a1111',
};

async function imageOf(model: LoadedModel, r: GenerateRequest): Promise<Uint8Array> {
  const { images } = await generate(model, await nodeRuntime(), r);
  return images[0]!.rgb;
}

let reference: Uint8Array | undefined;
/** The complete tiny SD-Turbo export (model_index, tokenizer, Euler trailing config) run with Euler a, 1 step, CFG 0. */
async function referenceImage(): Promise<Uint8Array> {
  if (!reference) {
    const full = await loadFixture(ORT_WEB_SOURCE);
    try {
      reference = await imageOf(full, { ...request, sampler: 'Euler a' });
    } finally {
      await full.release();
    }
  }
  return reference;
}

/** Opens the model and checks what was assumed and that it generates what the complete export does. */
async function expectOpensAsTurbo(files: ModelFiles): Promise<void> {
  const model = await loadModel(files, await nodeRuntime(), { fallbackMerges: async () => merges });
  try {
    expect(model.family).toBe('sd2');
    expect(model.textEncoders[0]!.padId).toBe(0);
    expect(model.schedulerConfig).toMatchObject({
      _class_name: 'EulerAncestralDiscreteScheduler',
      timestep_spacing: 'trailing',
    });
    expect(model.suggested).toEqual({ steps: 1, cfgScale: 0 });
    expect(model.assumptions).toEqual([
      'no model_index.json: layout inferred from unet/, text_encoder/, vae_decoder/',
      expect.stringMatching(/^no tokenizer: bundled CLIP tokenizer, padding with '!' \(SD-Turbo/),
      'no scheduler config: Euler a, trailing spacing (SD-Turbo); suggested 1 step, CFG 0',
    ]);
    expect(await imageOf(model, request)).toEqual(await referenceImage());
  } finally {
    await model.release();
  }
}

function expectOrtWebFiles(stored: StoredModel): void {
  expect(stored.paths().sort()).toEqual(ortWebPaths().sort());
}

describe('models without model_index.json', () => {
  it('downloads from the Hub by the tree listing, fetches no index, and opens as SD-Turbo', async () => {
    const store = createTestStore(createKv('indexeddb'));
    const stored = await store.download(hubSource(server, NO_INDEX));
    expectOrtWebFiles(stored);
    expect(server.log.filter((r) => !r.url.startsWith('/api/') && r.status === 404)).toEqual([]);
    await expectOpensAsTurbo(stored);
  });

  it('downloads from a static host that cannot list by probing the usual folders (404 = absent)', async () => {
    const store = createTestStore(createKv('memory'));
    const stored = await store.download(urlSource(server, 'static', NO_INDEX));
    expectOrtWebFiles(stored);
    const absent = (path: string): boolean =>
      server.log.some((r) => r.url.endsWith(`/static/${NO_INDEX}/${path}`) && r.status === 404);
    expect(absent('model_index.json')).toBe(true);
    expect(absent('text_encoder_2/model.onnx')).toBe(true);
    expect(absent('vae_encoder/model.onnx')).toBe(true);
    // only the folders found are probed further
    expect(absent('unet/model.onnx_data')).toBe(true);
    expect(server.log.some((r) => r.url.includes('/text_encoder_2/') && !r.url.endsWith('/model.onnx'))).toBe(false);
    await expectOpensAsTurbo(stored);
  });

  it('imports a picked folder rooted at its unet/, and reads one in place', async () => {
    const entries: LocalFileEntry[] = [];
    for (const path of ortWebPaths())
      entries.push({
        path: `Downloads/${NO_INDEX}/${path}`,
        file: await openAsBlob(join(MODELS, ORT_WEB_SOURCE, path)),
      });
    entries.push({ path: 'Downloads/notes.txt', file: new Blob(['x']) });
    expect(
      normalizeLocalEntries(entries, 'Downloads')
        .map((e) => e.path)
        .sort(),
    ).toEqual(ortWebPaths().sort());
    const stored = await createTestStore(createKv('memory')).importFolder(entries, NO_INDEX);
    expectOrtWebFiles(stored);
    await expectOpensAsTurbo(localModelFiles(entries, NO_INDEX));
  });

  it('refuses sources with neither an index nor the usual ONNX folders, saying what they hold', async () => {
    const store = createTestStore(createKv('memory'));
    await expect(
      store.download({ ...hubSource(server, ORT_WEB_SOURCE), subfolder: 'tokenizer' }),
    ).rejects.toMatchObject({
      code: 'missing-file',
      message: expect.stringMatching(
        /has no model_index\.json in tokenizer\/ and no ONNX models in the usual folders \(unet\/, text_encoder\/, vae_decoder\/; it holds: merges\.txt/,
      ),
    });
    await expect(
      store.download({ kind: 'url', baseUrl: `${server.baseUrl}/static/${ORT_WEB_SOURCE}/tokenizer/` }),
    ).rejects.toMatchObject({
      code: 'missing-file',
      message: expect.stringMatching(
        /has no model_index\.json, no sd-model-manifest\.json and no ONNX models in the usual folders/,
      ),
    });
    // a text encoder alone is not a model
    const encoderOnly: LocalFileEntry[] = [{ path: 'enc/text_encoder/model.onnx', file: new Blob(['x']) }];
    await expect(store.importFolder(encoderOnly, 'enc')).rejects.toMatchObject({
      code: 'missing-file',
      message: expect.stringMatching(/enc has no model_index\.json and no unet\/model\.onnx/),
    });
    const noUnet: LocalFileEntry[] = ['unet/model.onnx', 'text_encoder/model.onnx'].map((p) => ({
      path: `m/${p}`,
      file: new Blob(['x']),
    }));
    await expect(store.importFolder(noUnet, 'm')).rejects.toMatchObject({
      code: 'missing-file',
      message: expect.stringMatching(
        /m has no model_index\.json and lacks vae_decoder\/model\.onnx \(it holds unet\/, text_encoder\/\)/,
      ),
    });
  });
});
