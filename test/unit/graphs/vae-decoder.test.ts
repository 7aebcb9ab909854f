import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { parseAutoencoderKlConfig } from '../../../src/core/graphs/autoencoder-kl-config.ts';
import { SafetensorsWeights } from '../../../src/core/graphs/safetensors-weights.ts';
import { buildVaeDecoder } from '../../../src/core/graphs/vae-decoder.ts';
import { bytesByteSource } from '../../../src/core/safetensors/byte-source.ts';
import { SafetensorsFile } from '../../../src/core/safetensors/safetensors-file.ts';
import { FIXTURES } from '../../fixtures.ts';
import { roundFloat32ToFloat16 } from './fixture-weights.ts';
import { maxRelativeError, readNpy } from './npy.ts';

const SINGLE_FILE = resolve(FIXTURES, 'single-file');

/** Decodes the components' latent with the folder's VAE; returns the max relative error against the reference. */
async function decoderError(model: 'tiny-sd15' | 'tiny-sdxl'): Promise<number> {
  const vaeDir = resolve(SINGLE_FILE, `${model}-diffusers/vae`);
  const config = parseAutoencoderKlConfig(JSON.parse(readFileSync(resolve(vaeDir, 'config.json'), 'utf8')));
  const fileBytes = roundFloat32ToFloat16(readFileSync(resolve(vaeDir, 'diffusion_pytorch_model.safetensors')));
  const file = await SafetensorsFile.open(bytesByteSource(fileBytes), 'diffusion_pytorch_model.safetensors');
  const weights = new SafetensorsWeights(file, { location: 'vae.safetensors', convertedLocation: 'vae.float32.bin' });
  const onnx = buildVaeDecoder(config, weights);
  expect(weights.hasConverted).toBe(false);
  const session = await ort.InferenceSession.create(onnx, { externalData: [{ path: 'vae.safetensors', data: fileBytes }] });
  const components = resolve(SINGLE_FILE, `${model}.components`);
  const latent = readNpy(resolve(components, 'vae_decoder.latent_sample.npy'));
  const expected = readNpy(resolve(components, 'vae_decoder.sample.npy'));
  const out = await session.run({ latent_sample: new ort.Tensor('float32', latent.data as Float32Array, latent.shape) });
  await session.release();
  expect(out['sample']!.dims).toEqual(expected.shape);
  return maxRelativeError(out['sample']!.data as Float32Array, expected.data as Float32Array);
}

describe('buildVaeDecoder', () => {
  it('matches the SD 1.x and SDXL vae_decoder components', async () => {
    const errors = { sd15: await decoderError('tiny-sd15'), sdxl: await decoderError('tiny-sdxl') };
    console.log('vae_decoder max relative error', errors);
    expect(errors.sd15).toBeLessThan(1e-4);
    expect(errors.sdxl).toBeLessThan(1e-4);
  });

  it('refuses configs it cannot build', () => {
    expect(() => parseAutoencoderKlConfig({ block_out_channels: [8, 12], norm_num_groups: 8 })).toThrow(/"norm_num_groups" 8 .* does not divide block channel count 12/);
    expect(() => parseAutoencoderKlConfig({ block_out_channels: [8], up_block_types: ['AttnUpDecoderBlock2D'] })).toThrow(/"up_block_types" .* expected 1 × "UpDecoderBlock2D"/);
  });
});
