import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SdError } from '../../../src/core/errors.ts';
import { LoraFile } from '../../../src/core/lora/lora-file.ts';
import { LoraSet } from '../../../src/core/lora/lora-set.ts';
import { bytesByteSource } from '../../../src/core/safetensors/byte-source.ts';
import type { BlobModelFiles } from '../../../src/core/store/blob-model-files.ts';
import { openBlobModel } from '../../../src/core/store/open-blob-model.ts';
import { FIXTURES } from '../../fixtures.ts';

/** An ONNX export as openBlobModel sees it: unet/model.onnx present, no safetensors weights. */
const onnxExport: BlobModelFiles = {
  label: 'test/onnx-sd15',
  exists: async (path) => path === 'model_index.json' || path === 'unet/model.onnx',
  readText: async () => '{}',
  readBytes: async () => new Uint8Array(),
  readBlob: async () => new Blob([]),
};

describe('openBlobModel with LoRAs', () => {
  it('refuses to merge a LoRA into an ONNX export, naming the LoRA and the model', async () => {
    const bytes = new Uint8Array(readFileSync(resolve(FIXTURES, 'single-file', 'tiny-sd15-lora.safetensors')));
    const file = await LoraFile.open(bytesByteSource(bytes), 'tiny-sd15-lora.safetensors', 'tiny-sd15-lora');
    const loras = new LoraSet([{ file, te: 1, unet: 1 }]);
    await expect(openBlobModel(onnxExport, { loras })).rejects.toSatisfy(
      (e: unknown) =>
        e instanceof SdError &&
        e.code === 'unsupported-model' &&
        /LoRA tiny-sd15-lora.*test\/onnx-sd15 is an ONNX export/.test(e.message),
    );
    // without LoRAs (or with an empty set) the export opens as it is
    expect((await openBlobModel(onnxExport, { loras: new LoraSet() })).files).toBe(onnxExport);
  });
});
