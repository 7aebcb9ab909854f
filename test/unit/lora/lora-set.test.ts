import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { folderModelFiles } from '../../../src/cli/fs-model-files.ts';
import { parseUnet2dConditionConfig } from '../../../src/core/graphs/unet-config.ts';
import { LoraFile } from '../../../src/core/lora/lora-file.ts';
import { loraModuleNames } from '../../../src/core/lora/lora-module-names.ts';
import { LoraSet } from '../../../src/core/lora/lora-set.ts';
import { openSingleFileModel } from '../../../src/core/models/single-file-model.ts';
import { blobWeightsFile } from '../../../src/core/models/weights-file.ts';
import { bytesByteSource } from '../../../src/core/safetensors/byte-source.ts';
import { SafetensorsFile } from '../../../src/core/safetensors/safetensors-file.ts';
import { floatBytesToFloat32 } from '../../../src/core/safetensors/widen.ts';
import { FIXTURES } from '../../fixtures.ts';
import { kohyaModule, loraFileBytes } from './lora-fixture.ts';

const SF = resolve(FIXTURES, 'single-file');
const read = (path: string) => new Uint8Array(readFileSync(path));

async function sd15With(set: LoraSet) {
  return openSingleFileModel(blobWeightsFile(new Blob([read(resolve(SF, 'tiny-sd15.safetensors'))]), 'tiny-sd15'), {
    config: folderModelFiles(resolve(SF, 'tiny-sd15-diffusers')),
    loras: set,
  });
}

const openLora = (bytes: Uint8Array, name: string) =>
  LoraFile.open(bytesByteSource(bytes), `${name}.safetensors`, name);

describe('loraModuleNames', () => {
  it("gives kohya's diffusers and SGM spellings and PEFT's dotted name of a UNet weight", () => {
    const config = parseUnet2dConditionConfig(
      JSON.parse(readFileSync(resolve(SF, 'tiny-sdxl-diffusers/unet/config.json'), 'utf8')),
    );
    const naming = { component: 'unet' as const, unetConfig: config };
    expect(loraModuleNames('down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q.weight', naming)).toEqual([
      'lora_unet_down_blocks_1_attentions_0_transformer_blocks_0_attn1_to_q',
      'lora_unet_input_blocks_4_1_transformer_blocks_0_attn1_to_q',
      'unet.down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q',
    ]);
    expect(loraModuleNames('mid_block.attentions.0.proj_in.weight', naming)[1]).toBe(
      'lora_unet_middle_block_1_proj_in',
    );
    expect(loraModuleNames('up_blocks.0.attentions.1.proj_out.weight', naming)[1]).toBe(
      'lora_unet_output_blocks_1_1_proj_out',
    );
    expect(loraModuleNames('down_blocks.0.resnets.1.conv1.weight', naming)[1]).toBe(
      'lora_unet_input_blocks_2_0_in_layers_2',
    );
    expect(loraModuleNames('down_blocks.0.downsamplers.0.conv.weight', naming)[1]).toBe(
      'lora_unet_input_blocks_3_0_op',
    );
    expect(loraModuleNames('down_blocks.0.resnets.0.conv1.bias', naming)).toEqual([]);
  });

  it('names text encoder weights lora_te_ / lora_te1_ (first encoder) and lora_te2_ (second)', () => {
    const key = 'text_model.encoder.layers.3.self_attn.q_proj.weight';
    expect(loraModuleNames(key, { component: 'text_encoder' })).toEqual([
      'lora_te_text_model_encoder_layers_3_self_attn_q_proj',
      'lora_te1_text_model_encoder_layers_3_self_attn_q_proj',
      'text_encoder.text_model.encoder.layers.3.self_attn.q_proj',
    ]);
    expect(loraModuleNames(key, { component: 'text_encoder_2' })[0]).toBe(
      'lora_te2_text_model_encoder_layers_3_self_attn_q_proj',
    );
  });
});

describe('LoraSet on the tiny SD 1.5 checkpoint', () => {
  it('merges W + multiplier · alpha/rank · up @ down into a float32 buffer of its own and places every module', async () => {
    const lora = await openLora(read(resolve(SF, 'tiny-sd15-lora.safetensors')), 'tiny-sd15-lora');
    const set = new LoraSet([{ file: lora, te: 0.8, unet: 0.5 }]);
    const model = await sd15With(set);
    const unet = (await model.files.componentGraph!('unet'))!;
    const te = (await model.files.componentGraph!('text_encoder'))!;
    expect(set.check()).toEqual([]);
    expect(set.placements()).toEqual([{ name: 'tiny-sd15-lora', modules: 146, placed: 146, unplacedKeys: [] }]);
    // the converted file is the same as without LoRAs; the merged weights come after it
    const plain = await sd15With(new LoraSet());
    const plainUnet = (await plain.files.componentGraph!('unet'))!;
    expect(unet.externalData.slice(0, -1)).toEqual(plainUnet.externalData);
    expect(unet.externalData.at(-1)!.path).toBe('unet.lora.bin');
    expect(te.externalData.at(-1)!.path).toBe('text_encoder.lora.bin');

    // the first UNet module (bind order: down_blocks.0 attn1.to_q) against a direct computation
    const checkpoint = await SafetensorsFile.open(bytesByteSource(read(resolve(SF, 'tiny-sd15.safetensors'))), 'x');
    const base = checkpoint.tensors.get(
      'model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn1.to_q.weight',
    )!;
    const w = floatBytesToFloat32(base.dtype, await checkpoint.readBytes(base.name));
    const module = lora.modules.get('lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q')!;
    const { up, down } = await lora.factors(module);
    const [out, inn] = base.shape as [number, number];
    const merged = new Float32Array((unet.externalData.at(-1)!.data as Uint8Array).buffer, 0, out * inn);
    const scale = (0.5 * module.alpha) / module.rank;
    for (let o = 0; o < out; o++)
      for (let i = 0; i < inn; i++) {
        let s = 0;
        for (let r = 0; r < module.rank; r++) s += up[o * module.rank + r]! * down[r * inn + i]!;
        expect(merged[o * inn + i]).toBeCloseTo(w[o * inn + i]! + scale * s, 6);
      }
  });

  it('changing only the multipliers names the components to rebuild, which keep their unpatched data', async () => {
    const lora = await openLora(read(resolve(SF, 'tiny-sd15-lora.safetensors')), 'tiny-sd15-lora');
    const set = new LoraSet([{ file: lora, te: 1, unet: 1 }], true);
    const model = await sd15With(set);
    const first = (await model.files.componentGraph!('unet'))!;
    expect(set.setMultipliers([{ te: 1, unet: 0 }])).toEqual(['unet']);
    expect(set.setMultipliers([{ te: 0.5, unet: 0 }])).toEqual(['text_encoder', 'text_encoder_2']);
    const second = (await model.files.componentGraph!('unet'))!;
    // the same unpatched files (kept, not converted again), a new merged buffer: unet multiplier 0 gives the base weights
    expect(second.externalData.slice(0, -1).map((d) => d.data)).toEqual(
      first.externalData.slice(0, -1).map((d) => d.data),
    );
    expect(second.externalData[0]!.data).toBe(first.externalData[0]!.data);
    expect(second.model).toEqual(first.model);
    const checkpoint = await SafetensorsFile.open(bytesByteSource(read(resolve(SF, 'tiny-sd15.safetensors'))), 'x');
    const base = checkpoint.tensors.get(
      'model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn1.to_q.weight',
    )!;
    const w = floatBytesToFloat32(base.dtype, await checkpoint.readBytes(base.name));
    expect(new Float32Array((second.externalData.at(-1)!.data as Uint8Array).buffer, 0, w.length)).toEqual(w);
  });

  it('refuses a LoRA for another architecture (SDXL names on SD 1.5), naming the file and its first keys', async () => {
    const sdxlLora = await openLora(
      loraFileBytes({
        ...kohyaModule('lora_unet_input_blocks_4_1_transformer_blocks_0_attn1_to_q', [4, 640], [640, 4], 2),
        ...kohyaModule('lora_te2_text_model_encoder_layers_0_self_attn_q_proj', [4, 1280], [1280, 4], 2),
      }),
      'fake-sdxl-lora',
    );
    const set = new LoraSet([{ file: sdxlLora, te: 1, unet: 1 }]);
    const model = await sd15With(set);
    await model.files.componentGraph!('text_encoder');
    await model.files.componentGraph!('unet');
    expect(() => set.check()).toThrow(
      /LoRA fake-sdxl-lora does not fit this model: none of its 2 modules names a weight of it \(e\.g\. lora_unet_input_blocks_4_1_transformer_blocks_0_attn1_to_q\.lora_down\.weight, lora_te2_/,
    );
  });

  it('warns for a LoRA placed in part, with the count', async () => {
    const lora = await openLora(
      loraFileBytes({
        ...kohyaModule('lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q', [2, 16], [16, 2]),
        ...kohyaModule('lora_unet_down_blocks_9_attentions_0_proj_in', [2, 32], [32, 2]),
      }),
      'partial',
    );
    const set = new LoraSet([{ file: lora, te: 1, unet: 1 }]);
    const model = await sd15With(set);
    await model.files.componentGraph!('unet');
    expect(set.check()).toEqual([
      'LoRA partial: 1 of 2 modules applied; 1 keys fit no weight of this model (e.g. lora_unet_down_blocks_9_attentions_0_proj_in.lora_down.weight).',
    ]);
  });
});
