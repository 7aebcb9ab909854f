import { describe, expect, it } from 'vitest';
import { LoraFile } from '../../../src/core/lora/lora-file.ts';
import { bytesByteSource } from '../../../src/core/safetensors/byte-source.ts';
import { f32Bytes } from '../safetensors/safetensors-fixture.ts';
import { kohyaModule, loraFileBytes } from './lora-fixture.ts';

const open = (bytes: Uint8Array) => LoraFile.open(bytesByteSource(bytes), 'test.safetensors', 'test');

describe('LoraFile', () => {
  it('reads kohya modules in both UNet spellings, the text encoder, alpha (rank when missing) and LoCon 3x3', async () => {
    const file = await open(
      loraFileBytes({
        ...kohyaModule('lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q', [4, 8], [8, 4], 2),
        ...kohyaModule('lora_unet_input_blocks_4_1_transformer_blocks_0_attn1_to_q', [2, 8], [8, 2]),
        ...kohyaModule('lora_unet_down_blocks_0_resnets_0_conv1', [4, 8, 3, 3], [8, 4, 1, 1], 1),
        ...kohyaModule('lora_te_text_model_encoder_layers_0_self_attn_q_proj', [4, 16], [16, 4], 8),
      }),
    );
    expect([...file.modules.keys()].sort()).toEqual([
      'lora_te_text_model_encoder_layers_0_self_attn_q_proj',
      'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q',
      'lora_unet_down_blocks_0_resnets_0_conv1',
      'lora_unet_input_blocks_4_1_transformer_blocks_0_attn1_to_q',
    ]);
    const get = (n: string) => file.modules.get(n)!;
    expect(get('lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q')).toMatchObject({
      rank: 4,
      alpha: 2,
    });
    expect(get('lora_unet_input_blocks_4_1_transformer_blocks_0_attn1_to_q')).toMatchObject({ rank: 2, alpha: 2 });
    expect(get('lora_unet_down_blocks_0_resnets_0_conv1').down.shape).toEqual([4, 8, 3, 3]);
    expect(get('lora_te_text_model_encoder_layers_0_self_attn_q_proj').alpha).toBe(8);
    expect(file.unusableKeys).toEqual([]);
  });

  it('reads diffusers/PEFT lora_A/lora_B modules and lists keys it cannot merge (LoHa, a factor alone)', async () => {
    const file = await open(
      loraFileBytes({
        'unet.mid_block.attentions.0.proj_in.lora_A.weight': { dtype: 'F32', shape: [1, 2], bytes: f32Bytes([1, 2]) },
        'unet.mid_block.attentions.0.proj_in.lora_B.weight': { dtype: 'F32', shape: [2, 1], bytes: f32Bytes([3, 4]) },
        'lora_unet_conv_in.hada_w1_a': { dtype: 'F32', shape: [1], bytes: f32Bytes([1]) },
        'lora_unet_conv_out.lora_down.weight': { dtype: 'F32', shape: [1, 2], bytes: f32Bytes([1, 2]) },
      }),
    );
    expect([...file.modules.keys()]).toEqual(['unet.mid_block.attentions.0.proj_in']);
    expect(file.unusableKeys).toEqual(['lora_unet_conv_in.hada_w1_a', 'lora_unet_conv_out.lora_down.weight']);
    expect(await file.factors(file.modules.get('unet.mid_block.attentions.0.proj_in')!)).toEqual({
      down: new Float32Array([1, 2]),
      up: new Float32Array([3, 4]),
    });
  });

  it('refuses a file with no LoRA modules, naming it', async () => {
    await expect(
      open(loraFileBytes({ 'model.diffusion_model.x.weight': { dtype: 'F32', shape: [1], bytes: f32Bytes([1]) } })),
    ).rejects.toThrow(/test\.safetensors holds no LoRA modules .*model\.diffusion_model\.x\.weight/);
  });
});
