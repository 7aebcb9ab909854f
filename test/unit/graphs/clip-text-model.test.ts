import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { isSdError } from '../../../src/core/errors.ts';
import { buildClipTextModel } from '../../../src/core/graphs/clip-text-model.ts';
import { parseClipTextConfig, type ClipTextConfig } from '../../../src/core/graphs/clip-text-config.ts';
import { SafetensorsWeights } from '../../../src/core/graphs/safetensors-weights.ts';
import { bytesByteSource } from '../../../src/core/safetensors/byte-source.ts';
import { SafetensorsFile } from '../../../src/core/safetensors/safetensors-file.ts';
import { FIXTURES } from '../../fixtures.ts';
import { roundFloat32ToFloat16 } from './fixture-weights.ts';
import { maxRelativeError, readNpy } from './npy.ts';

const SINGLE_FILE = resolve(FIXTURES, 'single-file');

/** The components were computed from the float16 single file: round the folder's float32 weights the same way. */
function roundedToFloat16(encoder: Encoder): Encoder {
  return { ...encoder, fileBytes: roundFloat32ToFloat16(encoder.fileBytes) };
}
const TOLERANCE = 1e-4;

interface Encoder {
  config: ClipTextConfig;
  fileBytes: Uint8Array;
  fileKey?: (key: string) => string;
}

function folderEncoder(folder: string): Encoder {
  const dir = resolve(SINGLE_FILE, folder);
  return {
    config: parseClipTextConfig(JSON.parse(readFileSync(resolve(dir, 'config.json'), 'utf8'))),
    fileBytes: readFileSync(resolve(dir, 'model.safetensors')),
  };
}

/** Builds the graph, runs it on onnxruntime-node with the weights as external data, returns all outputs. */
async function runEncoder(
  encoder: Encoder,
  inputIds: BigInt64Array,
  batch: number,
): Promise<{ outputs: Record<string, ort.Tensor>; weights: SafetensorsWeights }> {
  const file = await SafetensorsFile.open(bytesByteSource(encoder.fileBytes), 'model.safetensors');
  const weights = new SafetensorsWeights(file, {
    location: 'model.safetensors',
    convertedLocation: 'model.float32.bin',
    fileKey: encoder.fileKey,
  });
  const { model } = buildClipTextModel(encoder.config, weights);
  const externalData = [{ path: 'model.safetensors', data: encoder.fileBytes }];
  if (weights.hasConverted)
    externalData.push({ path: 'model.float32.bin', data: await weights.materializeConverted() });
  const session = await ort.InferenceSession.create(model, { externalData });
  const ids = new ort.Tensor('int32', Int32Array.from(inputIds, Number), [batch, encoder.config.maxPositionEmbeddings]);
  const outputs = await session.run({ input_ids: ids });
  await session.release();
  return { outputs, weights };
}

/** Compares each named output with `<model>.<reference>.npy`; returns the max relative errors. */
async function compareWithComponents(
  components: string,
  model: string,
  encoder: Encoder,
  pairs: Record<string, string>,
): Promise<Record<string, number>> {
  const dir = resolve(SINGLE_FILE, components);
  const ids = readNpy(resolve(dir, `${model}.input_ids.npy`));
  const { outputs } = await runEncoder(encoder, ids.data as BigInt64Array, ids.shape[0]!);
  const errors: Record<string, number> = {};
  for (const [output, reference] of Object.entries(pairs)) {
    const expected = readNpy(resolve(dir, `${model}.${reference}.npy`));
    expect(outputs[output]!.dims).toEqual(expected.shape);
    errors[output] = maxRelativeError(outputs[output]!.data as Float32Array, expected.data as Float32Array);
  }
  return errors;
}

describe('buildClipTextModel', () => {
  it('SD 1.x text encoder (diffusers folder, float32 in place) matches the components', async () => {
    const encoder = roundedToFloat16(folderEncoder('tiny-sd15-diffusers/text_encoder'));
    const errors = await compareWithComponents('tiny-sd15.components', 'text_encoder', encoder, {
      last_hidden_state: 'last_hidden_state',
      'hidden_states.2': 'penultimate_hidden_state',
    });
    console.log('sd15 text_encoder max relative error', errors);
    for (const e of Object.values(errors)) expect(e).toBeLessThan(TOLERANCE);
  });

  it('SDXL text encoders (CLIP-L and the projection model) match the components', async () => {
    const first = await compareWithComponents(
      'tiny-sdxl.components',
      'text_encoder',
      roundedToFloat16(folderEncoder('tiny-sdxl-diffusers/text_encoder')),
      {
        last_hidden_state: 'last_hidden_state',
        'hidden_states.2': 'penultimate_hidden_state',
      },
    );
    const second = await compareWithComponents(
      'tiny-sdxl.components',
      'text_encoder_2',
      roundedToFloat16(folderEncoder('tiny-sdxl-diffusers/text_encoder_2')),
      {
        last_hidden_state: 'last_hidden_state',
        'hidden_states.2': 'penultimate_hidden_state',
        text_embeds: 'text_embeds',
      },
    );
    console.log('sdxl text_encoder max relative error', first, 'text_encoder_2', second);
    for (const e of [...Object.values(first), ...Object.values(second)]) expect(e).toBeLessThan(TOLERANCE);
  });

  it('float16 single-file weights are widened into a separate buffer and match too (SD 1.x, SDXL CLIP-L)', async () => {
    const sd15: Encoder = {
      config: folderEncoder('tiny-sd15-diffusers/text_encoder').config,
      fileBytes: readFileSync(resolve(SINGLE_FILE, 'tiny-sd15.safetensors')),
      fileKey: (key) => `cond_stage_model.transformer.${key}`,
    };
    const sdxl: Encoder = {
      config: folderEncoder('tiny-sdxl-diffusers/text_encoder').config,
      fileBytes: readFileSync(resolve(SINGLE_FILE, 'tiny-sdxl.safetensors')),
      fileKey: (key) => `conditioner.embedders.0.transformer.${key}`,
    };
    const pairs = { last_hidden_state: 'last_hidden_state', 'hidden_states.2': 'penultimate_hidden_state' };
    const errors = [
      await compareWithComponents('tiny-sd15.components', 'text_encoder', sd15, pairs),
      await compareWithComponents('tiny-sdxl.components', 'text_encoder', sdxl, pairs),
    ];
    console.log('single-file (float16) text_encoder max relative error: sd15', errors[0], 'sdxl', errors[1]);
    for (const e of errors.flatMap((r) => Object.values(r))) expect(e).toBeLessThan(TOLERANCE);
  });

  it('emits every hidden state and pools at the first eos token', async () => {
    const encoder = folderEncoder('tiny-sd15-diffusers/text_encoder');
    const ids = new BigInt64Array(77).fill(49407n);
    ids[0] = 49406n;
    ids[1] = 320n;
    const { outputs } = await runEncoder(encoder, ids, 1);
    expect(Object.keys(outputs).sort()).toEqual([
      'hidden_states.0',
      'hidden_states.1',
      'hidden_states.2',
      'hidden_states.3',
      'last_hidden_state',
      'pooler_output',
    ]);
    const last = outputs['last_hidden_state']!.data as Float32Array;
    expect([...(outputs['pooler_output']!.data as Float32Array)]).toEqual([...last.subarray(2 * 16, 3 * 16)]);
  });

  it('pools at the argmax of the ids for old configs with eos_token_id 2, as transformers does', async () => {
    const encoder = folderEncoder('tiny-sd15-diffusers/text_encoder');
    const ids = new BigInt64Array(77).fill(7n);
    ids[1] = 500n;
    ids[4] = 49000n;
    const { outputs } = await runEncoder({ ...encoder, config: { ...encoder.config, eosTokenId: 2 } }, ids, 1);
    const last = outputs['last_hidden_state']!.data as Float32Array;
    expect([...(outputs['pooler_output']!.data as Float32Array)]).toEqual([...last.subarray(4 * 16, 5 * 16)]);
  });

  it('names the tensor and both shapes when the weights do not fit the config', async () => {
    const encoder = folderEncoder('tiny-sd15-diffusers/text_encoder');
    const wrong = { ...encoder, config: { ...encoder.config, intermediateSize: 40 } };
    const error = await runEncoder(wrong, new BigInt64Array(77), 1).catch((e: unknown) => e);
    expect(isSdError(error, 'unsupported-model')).toBe(true);
    expect((error as Error).message).toMatch(
      /"text_model.encoder.layers.0.mlp.fc1.weight" in "model.safetensors" has shape \[37, 16\] but the config implies \[40, 16\]/,
    );
  });
});
