import type { Unet2dConditionConfig } from '../graphs/unet-config.ts';

/**
 * diffusers `UNet2DConditionModel` keys → the original LDM (`openaimodel.UNetModel`) keys of a
 * single-file checkpoint, the inverse of diffusers' `convert_ldm_unet_checkpoint`. The LDM UNet
 * numbers its layers flat: `input_blocks.0` is conv_in, then each level's resnet(+transformer)
 * layers and its downsampler; `output_blocks` holds each up level's layers, the upsampler sitting
 * in the last one after the resnet (and transformer, when there is one).
 */

/** ResnetBlock2D submodule → ResBlock submodule. */
const RESNET_PARTS: Readonly<Record<string, string>> = {
  norm1: 'in_layers.0',
  conv1: 'in_layers.2',
  norm2: 'out_layers.0',
  conv2: 'out_layers.3',
  time_emb_proj: 'emb_layers.1',
  conv_shortcut: 'skip_connection',
};

/** Top-level modules renamed whole. */
const TOP_LEVEL: Readonly<Record<string, string>> = {
  'time_embedding.linear_1': 'time_embed.0',
  'time_embedding.linear_2': 'time_embed.2',
  'add_embedding.linear_1': 'label_emb.0.0',
  'add_embedding.linear_2': 'label_emb.0.2',
  conv_in: 'input_blocks.0.0',
  conv_norm_out: 'out.0',
  conv_out: 'out.2',
};

const MID_BLOCK: Readonly<Record<string, string>> = { 'resnets.0': '0', 'attentions.0': '1', 'resnets.1': '2' };

function resnetPart(rest: string): string {
  const dot = rest.indexOf('.');
  const part = RESNET_PARTS[rest.slice(0, dot)];
  return part === undefined ? rest : `${part}${rest.slice(dot)}`;
}

/**
 * The LDM key (without the `model.diffusion_model.` prefix) of a diffusers UNet key, for the
 * layer counts of `config`. Keys with no LDM counterpart are returned unchanged (the lookup in the
 * file then reports them missing).
 */
export function ldmUnetKey(key: string, config: Unet2dConditionConfig): string {
  for (const [module, ldm] of Object.entries(TOP_LEVEL)) {
    if (key.startsWith(`${module}.`)) return ldm + key.slice(module.length);
  }
  const mid = /^mid_block\.(resnets\.\d+|attentions\.\d+)\.(.+)$/.exec(key);
  if (mid !== null) {
    const index = MID_BLOCK[mid[1]!];
    if (index !== undefined)
      return `middle_block.${index}.${mid[1]!.startsWith('resnets') ? resnetPart(mid[2]!) : mid[2]}`;
  }
  const block = /^(down|up)_blocks\.(\d+)\.(resnets|attentions|downsamplers|upsamplers)\.(\d+)\.(.+)$/.exec(key);
  if (block === null) return key;
  const [, direction, blockText, kind, layerText, rest] = block as unknown as [
    string,
    'down' | 'up',
    string,
    string,
    string,
    string,
  ];
  const blockIndex = Number(blockText);
  const layer = Number(layerText);
  const levels = config.levels;
  if (direction === 'down') {
    let first = 1;
    for (let i = 0; i < blockIndex; i++) first += levels[i]!.layers + 1;
    if (kind === 'resnets') return `input_blocks.${first + layer}.0.${resnetPart(rest)}`;
    if (kind === 'attentions') return `input_blocks.${first + layer}.1.${rest}`;
    // the downsampler is a block of its own after the level's layers
    return `input_blocks.${first + levels[blockIndex]!.layers}.0.${rest.replace(/^conv\./, 'op.')}`;
  }
  const upLayers = (i: number): number => levels[levels.length - 1 - i]!.layers + 1;
  let first = 0;
  for (let i = 0; i < blockIndex; i++) first += upLayers(i);
  if (kind === 'resnets') return `output_blocks.${first + layer}.0.${resnetPart(rest)}`;
  if (kind === 'attentions') return `output_blocks.${first + layer}.1.${rest}`;
  const hasAttention = config.upBlockTypes[blockIndex] === 'CrossAttnUpBlock2D';
  return `output_blocks.${first + upLayers(blockIndex) - 1}.${hasAttention ? 2 : 1}.${rest}`;
}
