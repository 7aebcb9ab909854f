import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { parseAutoencoderKlConfig } from '../../../src/core/graphs/autoencoder-kl-config.ts';
import { SafetensorsWeights } from '../../../src/core/graphs/safetensors-weights.ts';
import { buildVaeDecoder } from '../../../src/core/graphs/vae-decoder.ts';
import { buildVaeEncoder } from '../../../src/core/graphs/vae-encoder.ts';
import { bytesByteSource } from '../../../src/core/safetensors/byte-source.ts';
import { SafetensorsFile } from '../../../src/core/safetensors/safetensors-file.ts';
import { FIXTURES } from '../../fixtures.ts';
import { roundFloat32ToFloat16 } from './fixture-weights.ts';
import { maxRelativeError, readNpy } from './npy.ts';

const SINGLE_FILE = resolve(FIXTURES, 'single-file');

type Model = 'tiny-sd15' | 'tiny-sdxl';

/** Builds a VAE graph from the folder's config and (float16-rounded) weights and runs it on one input. */
async function runVae(
  model: Model,
  build: typeof buildVaeDecoder,
  input: string,
  inputNpy: string,
): Promise<ort.Tensor> {
  const vaeDir = resolve(SINGLE_FILE, `${model}-diffusers/vae`);
  const config = parseAutoencoderKlConfig(JSON.parse(readFileSync(resolve(vaeDir, 'config.json'), 'utf8')));
  const fileBytes = roundFloat32ToFloat16(readFileSync(resolve(vaeDir, 'diffusion_pytorch_model.safetensors')));
  const file = await SafetensorsFile.open(bytesByteSource(fileBytes), 'diffusion_pytorch_model.safetensors');
  const weights = new SafetensorsWeights(file, { location: 'vae.safetensors', convertedLocation: 'vae.float32.bin' });
  const onnx = build(config, weights);
  expect(weights.hasConverted).toBe(false);
  const session = await ort.InferenceSession.create(onnx, {
    externalData: [{ path: 'vae.safetensors', data: fileBytes }],
  });
  const x = readNpy(resolve(SINGLE_FILE, `${model}.components`, inputNpy));
  const out = await session.run({ [input]: new ort.Tensor('float32', x.data as Float32Array, x.shape) });
  await session.release();
  return Object.values(out)[0]!;
}

/** Decodes the components' latent; returns the max relative error against the reference. */
async function decoderError(model: Model): Promise<number> {
  const sample = await runVae(model, buildVaeDecoder, 'latent_sample', 'vae_decoder.latent_sample.npy');
  const expected = readNpy(resolve(SINGLE_FILE, `${model}.components`, 'vae_decoder.sample.npy'));
  expect(sample.dims).toEqual(expected.shape);
  return maxRelativeError(sample.data as Float32Array, expected.data as Float32Array);
}

/** Encodes the components' image; compares the posterior mean (first half of the channels). */
async function encoderError(model: Model): Promise<number> {
  const params = await runVae(model, buildVaeEncoder, 'sample', 'vae_encoder.sample.npy');
  const expected = readNpy(resolve(SINGLE_FILE, `${model}.components`, 'vae_encoder.latent_mean.npy'));
  const [batch, channels, h, w] = expected.shape as [number, number, number, number];
  expect(params.dims).toEqual([batch, 2 * channels, h, w]);
  const data = params.data as Float32Array;
  const mean = new Float32Array(batch * channels * h * w);
  for (let b = 0; b < batch; b++)
    mean.set(data.subarray(b * 2 * channels * h * w, (b * 2 + 1) * channels * h * w), b * channels * h * w);
  return maxRelativeError(mean, expected.data as Float32Array);
}

describe('buildVaeDecoder / buildVaeEncoder', () => {
  it('matches the SD 1.x and SDXL vae_decoder components', async () => {
    const errors = { sd15: await decoderError('tiny-sd15'), sdxl: await decoderError('tiny-sdxl') };
    console.log('vae_decoder max relative error', errors);
    expect(errors.sd15).toBeLessThan(1e-4);
    expect(errors.sdxl).toBeLessThan(1e-4);
  });

  it('encoder: latent_parameters hold the SD 1.x and SDXL vae_encoder posterior means', async () => {
    const errors = { sd15: await encoderError('tiny-sd15'), sdxl: await encoderError('tiny-sdxl') };
    console.log('vae_encoder latent_mean max relative error', errors);
    expect(errors.sd15).toBeLessThan(1e-4);
    expect(errors.sdxl).toBeLessThan(1e-4);
  });

  it('refuses configs it cannot build', () => {
    expect(() => parseAutoencoderKlConfig({ block_out_channels: [8, 12], norm_num_groups: 8 })).toThrow(
      /"norm_num_groups" 8 .* does not divide block channel count 12/,
    );
    expect(() =>
      parseAutoencoderKlConfig({ block_out_channels: [8], up_block_types: ['AttnUpDecoderBlock2D'] }),
    ).toThrow(/"up_block_types" .* expected 1 × "UpDecoderBlock2D"/);
  });
});
