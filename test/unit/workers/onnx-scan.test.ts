import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { scanOnnx } from '../../../workers/onnx-scan.ts';
import { MODELS } from '../../fixtures.ts';

const GRAPHS = [
  ['tiny-sd15', 'text_encoder'],
  ['tiny-sd15', 'unet'],
  ['tiny-sd15', 'vae_decoder'],
  ['tiny-sd-turbo', 'text_encoder'],
  ['tiny-sd-turbo', 'unet'],
  ['tiny-sd-turbo', 'vae_decoder'],
  ['tiny-sdxl', 'text_encoder_2'],
  ['tiny-sdxl', 'unet'],
] as const;

/** Whether onnxruntime itself reports a float16 input or output. */
async function ortSeesFloat16(path: string): Promise<boolean> {
  const session = await ort.InferenceSession.create(path);
  const values = [...session.inputMetadata, ...session.outputMetadata];
  await session.release();
  return values.some((v) => v.isTensor && v.type === 'float16');
}

describe('ONNX scan', () => {
  it.each(GRAPHS)('%s/%s: float16 as onnxruntime reports it', async (model, component) => {
    const path = resolve(MODELS, model, component, 'model.onnx');
    expect(scanOnnx(new Uint8Array(readFileSync(path))).hasFloat16).toBe(await ortSeesFloat16(path));
  });

  it('sizes the largest weight within the bytes that hold it', () => {
    const vocabSize = Object.keys(
      JSON.parse(readFileSync(resolve(MODELS, 'tiny-sd15/tokenizer/vocab.json'), 'utf8')),
    ).length;
    const encoder = resolve(MODELS, 'tiny-sd15/text_encoder/model.onnx');
    const scan = scanOnnx(new Uint8Array(readFileSync(encoder)));
    // the token embedding has one float32 row per vocabulary entry, and lives inside the file
    expect(scan.largestTensorBytes).toBeGreaterThanOrEqual(vocabSize * 4);
    expect(scan.largestTensorBytes).toBeLessThanOrEqual(statSync(encoder).size);
    // the UNet's weights are external (weights.pb): still sized from the graph's dims
    const unet = scanOnnx(new Uint8Array(readFileSync(resolve(MODELS, 'tiny-sd15/unet/model.onnx'))));
    expect(unet.largestTensorBytes).toBeGreaterThan(0);
    expect(unet.largestTensorBytes).toBeLessThanOrEqual(statSync(resolve(MODELS, 'tiny-sd15/unet/weights.pb')).size);
  });

  it('rejects bytes that are not protobuf', () => {
    expect(() => scanOnnx(new TextEncoder().encode('<!doctype html><html>'))).toThrow(RangeError);
  });
});
