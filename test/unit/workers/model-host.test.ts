// The worker's model host with models from the disk, in Node: fake-indexeddb stands in for the
// browser's IndexedDB, and fixture files opened as Blobs for the Files a folder picker gives.
import 'fake-indexeddb/auto';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { CopyProgress } from '../../../workers/api.ts';
import { ModelHost } from '../../../workers/model-host.ts';
import { MODELS } from '../../fixtures.ts';
import { picked } from './picked-files.ts';

const SITE = 'http://site.test/';
const host = new ModelHost(SITE);
afterEach(() => host.clearStore());

describe('ModelHost with models from the disk', () => {
  it('checks a picked folder and, without keepCopy, stores nothing', async () => {
    const files = await picked(join(MODELS, 'tiny-sd15'));
    const info = await host.openLocal({ name: 'tiny-sd15', files, keepCopy: false }, () => undefined);
    // only the files the pipeline reads, which the picked folder may exceed
    expect(info).toMatchObject({ model: 'local:tiny-sd15', label: 'tiny-sd15', isStored: false });
    expect(info.fileCount).toBeGreaterThanOrEqual(6);
    expect(info.fileCount).toBeLessThanOrEqual(files.length);
    expect(info.sizeBytes).toBeGreaterThan(0);
    expect((await host.storeReport(new Set())).models).toEqual([]);
  });

  it('copies the folder into the store on request, reporting each file', async () => {
    const files = await picked(join(MODELS, 'tiny-sd15'));
    const reports: CopyProgress[] = [];
    const info = await host.openLocal({ name: 'tiny-sd15', files, keepCopy: true }, (p) => reports.push(p));
    expect(info.isStored).toBe(true);
    const [stored, ...others] = (await host.storeReport(new Set())).models;
    expect(others).toEqual([]);
    expect(stored).toMatchObject({
      id: 'local:tiny-sd15',
      source: { kind: 'local', name: 'tiny-sd15' },
      fileCount: info.fileCount,
      sizeBytes: info.sizeBytes,
      storedBytes: info.sizeBytes,
      isComplete: true,
      isLoaded: false,
    });
    expect(reports.at(-1)).toMatchObject({ loadedBytes: info.sizeBytes, totalBytes: info.sizeBytes });
  });

  it('names what was expected when the folder is not a model, and stores nothing', async () => {
    const files = await picked(join(MODELS, 'tiny-sd15', 'tokenizer'));
    await expect(host.openLocal({ name: 'tokenizer', files, keepCopy: true }, () => undefined)).rejects.toMatchObject({
      code: 'missing-file',
      message: expect.stringMatching(
        /^The folder tokenizer has no model_index\.json and no unet\/model\.onnx: pick the folder of a diffusers model .*or one \.safetensors checkpoint\.$/,
      ) as unknown,
    });
    expect((await host.storeReport(new Set())).models).toEqual([]);
  });

  it('refuses a name that cannot be a folder name', async () => {
    const files = await picked(join(MODELS, 'tiny-sd15'));
    await expect(host.openLocal({ name: 'a/b', files, keepCopy: false }, () => undefined)).rejects.toMatchObject({
      code: 'bad-argument',
    });
  });

  it('says to open the folder when a local: model comes without files and was not kept', async () => {
    await expect(host.acquire({ model: 'local:elsewhere', backend: 'wasm' }, () => undefined)).rejects.toMatchObject({
      code: 'missing-file',
      message: expect.stringMatching(/^local:elsewhere names a folder .* not kept: a link carries only/) as unknown,
    });
  });
});
