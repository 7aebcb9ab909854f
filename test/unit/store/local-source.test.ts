import { openAsBlob } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localModelFiles, normalizeLocalEntries, type LocalFileEntry } from '../../../src/core/store/local-source.ts';
import { modelIdOf } from '../../../src/core/store/model-source.ts';
import { chunkKey } from '../../../src/core/store/records.ts';
import { MODELS } from '../../fixtures.ts';
import { ModelServer } from './model-server.ts';
import { createKv, createTestStore, expectExactCopy } from './store-harness.ts';

// the server is only used for its fixture file table (paths and bytes); nothing is fetched
const server = new ModelServer();
beforeAll(() => server.start());
afterAll(() => server.stop());

/** The entries a folder picker gives for a fixture model: "tiny-sd15/unet/model.onnx" etc., as file-backed Blobs. */
async function pickedFolder(model: string): Promise<LocalFileEntry[]> {
  const entries: LocalFileEntry[] = [];
  for (const path of server.files(model).keys())
    entries.push({ path: `${model}/${path}`, file: await openAsBlob(join(MODELS, model, path)) });
  return entries;
}

describe('local folders', () => {
  it('roots a picked folder at its model_index.json and drops what lies outside', async () => {
    const blob = new Blob(['x']);
    const entries = normalizeLocalEntries(
      [
        { path: 'downloads\\sd\\model_index.json', file: blob },
        { path: 'downloads/sd/unet/model.onnx', file: blob },
        { path: 'downloads/readme.txt', file: blob },
        { path: 'downloads/sd/old/model_index.json', file: blob },
      ],
      'downloads',
    );
    expect(entries.map((e) => e.path)).toEqual(['model_index.json', 'unet/model.onnx', 'old/model_index.json']);
    // without an index, the folder holding unet/model.onnx is the root
    expect(
      normalizeLocalEntries(
        [
          { path: 'x/sd/unet/model.onnx', file: blob },
          { path: 'x/a.txt', file: blob },
        ],
        'x',
      ).map((e) => e.path),
    ).toEqual(['unet/model.onnx']);
    expect(() => normalizeLocalEntries([{ path: 'x/text_encoder/model.onnx', file: blob }], 'x')).toThrowError(
      expect.objectContaining({ code: 'missing-file' }) as Error,
    );
  });

  it('reads a picked folder in place, bytes and Blobs', async () => {
    const files = localModelFiles(await pickedFolder('tiny-sdxl'), 'tiny-sdxl');
    const fixture = server.files('tiny-sdxl');
    for (const [path, file] of fixture) {
      expect(await files.exists(path)).toBe(true);
      expect(Buffer.from(await files.readBytes(path)).equals(file.bytes), path).toBe(true);
    }
    expect((await files.readBlob('unet/model.onnx_data')).size).toBe(2169040);
    expect(await files.exists('unet/weights.pb')).toBe(false);
    await expect(files.readBytes('unet/weights.pb')).rejects.toMatchObject({ code: 'missing-file' });
  });

  it('imports a picked folder into the store, leaving out files the pipeline does not read', async () => {
    const kv = createKv('indexeddb');
    const store = createTestStore(kv);
    const entries = await pickedFolder('tiny-sd15');
    entries.push({
      path: 'tiny-sd15/unet/diffusion_pytorch_model.safetensors',
      file: new Blob([new Uint8Array(1000)]),
    });
    const stored = await store.importFolder(entries, 'tiny-sd15');
    await expectExactCopy(stored, server, 'tiny-sd15');
    expect(await store.list()).toEqual([
      expect.objectContaining({ id: 'local:tiny-sd15', label: 'tiny-sd15', isComplete: true, fileCount: 11 }),
    ]);
    // an imported model cannot be repaired from the network: a lost chunk asks for the folder again
    await kv.del(chunkKey(modelIdOf({ kind: 'local', name: 'tiny-sd15' }), 'unet/weights.pb', 0));
    await expect(store.open('local:tiny-sd15')).rejects.toMatchObject({
      code: 'missing-file',
      message: expect.stringContaining('Import the folder again'),
    });
    await expectExactCopy(await store.importFolder(entries, 'tiny-sd15'), server, 'tiny-sd15');
  });
});
