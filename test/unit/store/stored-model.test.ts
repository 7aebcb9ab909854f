import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from '../../../src/core/models/load-model.ts';
import { nodeRuntime } from '../pipeline/fixture-models.ts';
import { ModelServer } from './model-server.ts';
import { createKv, createTestStore, hubSource } from './store-harness.ts';

const server = new ModelServer();
beforeAll(() => server.start());
afterAll(() => server.stop());

describe('a stored model opens with loadModel', () => {
  it('SDXL fixture (two text encoders, external model.onnx_data) downloaded from the hub, loaded offline', async () => {
    const kv = createKv('indexeddb');
    const source = hubSource(server, 'tiny-sdxl');
    await createTestStore(kv).download(source);
    // a new store over the same database, offline: everything comes from IndexedDB
    const offline = createTestStore(kv, { fetch: () => Promise.reject(new TypeError('offline')) });
    const stored = await offline.ensure(source);
    const loaded = await loadModel(stored, await nodeRuntime());
    try {
      expect(loaded.family).toBe('sdxl');
      expect(loaded.textEncoders).toHaveLength(2);
      expect(loaded.label).toBe(stored.label);
      expect(loaded.unet.session.inputNames).toContain('sample');
    } finally {
      await loaded.release();
    }
  });
});
