import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import * as ort from 'onnxruntime-node';
import { getFloat16 } from '@petamoriken/float16';
import { describe, expect, it } from 'vitest';
import { buildCheckpointGraphs } from '../../../src/core/checkpoint/checkpoint-graphs.ts';
import { componentWeights, resolveSingleFileCheckpoint } from '../../../src/core/checkpoint/single-file-checkpoint.ts';
import type { PipelineConfigJson } from '../../../src/core/checkpoint/standard-configs.ts';
import { isSdError } from '../../../src/core/errors.ts';
import type { SafetensorsWeights } from '../../../src/core/graphs/safetensors-weights.ts';
import { buildClipTextModel } from '../../../src/core/graphs/clip-text-model.ts';
import { bytesByteSource } from '../../../src/core/safetensors/byte-source.ts';
import { SafetensorsFile } from '../../../src/core/safetensors/safetensors-file.ts';
import { FIXTURES } from '../../fixtures.ts';
import { maxRelativeError, readNpy } from '../graphs/npy.ts';
import { buildSafetensors, type TestTensor } from '../safetensors/safetensors-fixture.ts';

const SINGLE_FILE = resolve(FIXTURES, 'single-file');
type Model = 'tiny-sd15' | 'tiny-sdxl';

/** The config.json files of a diffusers folder, as the `config` option takes them. */
function folderConfig(model: Model): PipelineConfigJson {
  const read = (path: string): unknown =>
    JSON.parse(readFileSync(resolve(SINGLE_FILE, `${model}-diffusers`, path), 'utf8'));
  const json: PipelineConfigJson = {
    unet: read('unet/config.json'),
    vae: read('vae/config.json'),
    text_encoder: read('text_encoder/config.json'),
    scheduler: read('scheduler/scheduler_config.json'),
  };
  if (model === 'tiny-sdxl') json.text_encoder_2 = read('text_encoder_2/config.json');
  return json;
}

const reference = (model: Model, name: string) => readNpy(resolve(SINGLE_FILE, `${model}.components`, `${name}.npy`));

/** Runs `onnx` with the checkpoint (and the component's converted buffer) as external data. */
async function run(
  onnx: Uint8Array,
  fileBytes: Uint8Array,
  converted: Uint8Array | undefined,
  feeds: Record<string, ort.Tensor>,
): Promise<Record<string, ort.Tensor>> {
  const externalData = [{ path: 'model.safetensors', data: fileBytes }];
  if (converted !== undefined) externalData.push({ path: 'converted.bin', data: converted });
  const session = await ort.InferenceSession.create(onnx, { externalData });
  const out = await session.run(feeds);
  await session.release();
  return out;
}

const tensorOf = (name: string, model: Model, prefix: string): ort.Tensor => {
  const a = reference(model, `${prefix}.${name}`);
  return a.data instanceof BigInt64Array
    ? new ort.Tensor('int32', Int32Array.from(a.data, Number), a.shape)
    : new ort.Tensor('float32', a.data as Float32Array, a.shape);
};

/** The converted-weights buffer, when the component has one (onnxruntime refuses empty external data). */
async function convertedOf(weights: SafetensorsWeights): Promise<Uint8Array | undefined> {
  return weights.hasConverted ? weights.materializeConverted() : undefined;
}

/** Builds every component of the checkpoint and returns the max relative error of each output against the components. */
async function componentErrors(model: Model, fileBytes: Uint8Array): Promise<Record<string, number>> {
  const file = await SafetensorsFile.open(bytesByteSource(fileBytes), `${model}.safetensors`);
  const checkpoint = resolveSingleFileCheckpoint(file, { config: folderConfig(model) });
  const graphs = buildCheckpointGraphs(file, checkpoint, {
    location: 'model.safetensors',
    convertedLocation: () => 'converted.bin',
  });
  const errors: Record<string, number> = {};
  const compare = (name: string, actual: ort.Tensor): void => {
    const expected = reference(model, name);
    expect(actual.dims).toEqual(expected.shape);
    errors[name] = maxRelativeError(actual.data as Float32Array, expected.data as Float32Array);
  };

  for (const [name, graph] of [
    ['text_encoder', graphs.textEncoder],
    ['text_encoder_2', graphs.textEncoder2],
  ] as const) {
    if (graph === undefined) continue;
    const out = await run(graph.model, fileBytes, await convertedOf(graph.weights), {
      input_ids: tensorOf('input_ids', model, name),
    });
    compare(`${name}.last_hidden_state`, out[graph.outputs.lastHiddenState]!);
    compare(`${name}.penultimate_hidden_state`, out[graph.outputs.hiddenStates.at(-2)!]!);
    if (graph.outputs.textEmbeds !== undefined) compare(`${name}.text_embeds`, out[graph.outputs.textEmbeds]!);
  }

  const unetInputs =
    model === 'tiny-sdxl'
      ? ['sample', 'timestep', 'encoder_hidden_states', 'text_embeds', 'time_ids']
      : ['sample', 'timestep', 'encoder_hidden_states'];
  const unet = await run(
    graphs.unet.model,
    fileBytes,
    await convertedOf(graphs.unet.weights),
    Object.fromEntries(unetInputs.map((n) => [n, tensorOf(n, model, 'unet')])),
  );
  compare('unet.out_sample', unet['out_sample']!);

  const vaeConverted = await convertedOf(graphs.vae.weights);
  compare(
    'vae_decoder.sample',
    (
      await run(graphs.vae.decoder, fileBytes, vaeConverted, {
        latent_sample: tensorOf('latent_sample', model, 'vae_decoder'),
      })
    )['sample']!,
  );
  const encoded = (
    await run(graphs.vae.encoder, fileBytes, vaeConverted, { sample: tensorOf('sample', model, 'vae_encoder') })
  )['latent_parameters']!;
  const [batch, channels, h, w] = encoded.dims as [number, number, number, number];
  const size = (channels / 2) * h * w;
  const mean = new Float32Array(batch * size);
  for (let b = 0; b < batch; b++)
    mean.set((encoded.data as Float32Array).subarray(2 * b * size, (2 * b + 1) * size), b * size);
  compare('vae_encoder.latent_mean', new ort.Tensor('float32', mean, [batch, channels / 2, h, w]));
  return errors;
}

/** The checkpoint with every float16 tensor widened to float32 (a float32 single file: weights used in place). */
async function widenedCheckpoint(fileBytes: Uint8Array): Promise<Uint8Array> {
  const file = await SafetensorsFile.open(bytesByteSource(fileBytes), 'model.safetensors');
  const tensors: Record<string, TestTensor> = {};
  for (const info of file.tensors.values()) {
    const bytes = await file.readBytes(info.name);
    if (info.dtype !== 'F16') tensors[info.name] = { dtype: info.dtype, shape: [...info.shape], bytes };
    else {
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      const values = Float32Array.from({ length: bytes.byteLength / 2 }, (_, i) => getFloat16(view, 2 * i, true));
      tensors[info.name] = { dtype: 'F32', shape: [...info.shape], bytes: new Uint8Array(values.buffer) };
    }
  }
  return buildSafetensors(tensors);
}

describe('single-file checkpoints (float16, LDM layout) with their folder configs', () => {
  for (const model of ['tiny-sd15', 'tiny-sdxl'] as const) {
    it(`${model}: every component matches what diffusers' from_single_file gives`, async () => {
      const errors = await componentErrors(model, readFileSync(resolve(SINGLE_FILE, `${model}.safetensors`)));
      console.log(`${model} single-file max relative error`, errors);
      expect(Object.keys(errors).length).toBe(model === 'tiny-sdxl' ? 8 : 5);
      for (const e of Object.values(errors)) expect(e).toBeLessThan(1e-4);
    });
  }
});

describe('float32 single files', () => {
  it('use the weights in place (q/k/v as byte ranges of in_proj_weight) and still match', async () => {
    const fileBytes = await widenedCheckpoint(readFileSync(resolve(SINGLE_FILE, 'tiny-sdxl.safetensors')));
    const file = await SafetensorsFile.open(bytesByteSource(fileBytes), 'tiny-sdxl.safetensors');
    const checkpoint = resolveSingleFileCheckpoint(file, { config: folderConfig('tiny-sdxl') });
    const encoder2 = componentWeights(file, checkpoint.textEncoder2!, {
      location: 'model.safetensors',
      convertedLocation: 'converted.bin',
    });
    buildClipTextModel(checkpoint.textEncoder2!.config, encoder2);
    // only the transposed text_projection needs a converted copy
    expect(encoder2.convertedByteLength).toBe(
      checkpoint.textEncoder2!.config.projectionDim * checkpoint.textEncoder2!.config.hiddenSize * 4,
    );
    const errors = await componentErrors('tiny-sdxl', fileBytes);
    console.log('tiny-sdxl float32 single-file max relative error', errors);
    for (const e of Object.values(errors)) expect(e).toBeLessThan(1e-4);
  });
});

describe('configs that do not fit the checkpoint', () => {
  it('an SDXL config on an SD 1.x file names the text encoder keys it looked for', async () => {
    const file = await SafetensorsFile.open(
      bytesByteSource(readFileSync(resolve(SINGLE_FILE, 'tiny-sd15.safetensors'))),
      'tiny-sd15.safetensors',
    );
    let error: unknown;
    try {
      resolveSingleFileCheckpoint(file, { config: folderConfig('tiny-sdxl') });
    } catch (e) {
      error = e;
    }
    expect(isSdError(error, 'unsupported-model')).toBe(true);
    expect((error as Error).message).toMatch(
      /config has a "text_encoder_2" but "tiny-sd15.safetensors" holds no text encoder .* "conditioner.embedders.1.model.token_embedding.weight"/,
    );
  });
});
