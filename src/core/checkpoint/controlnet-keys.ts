import { SdError } from '../errors.ts';
import type { ControlNetCondSettings } from '../graphs/controlnet-config.ts';
import type { Unet2dConditionConfig } from '../graphs/unet-config.ts';
import type { SafetensorsFile } from '../safetensors/safetensors-file.ts';
import { ldmUnetKey } from './unet-keys.ts';

/**
 * Where a ControlNet file keeps its tensors: diffusers' `ControlNetModel` names, or the original
 * layout (`control_model.` + UNet-style keys in ControlNet 1.0 files, no prefix in 1.1 files),
 * where `input_hint_block.{0,2,…}` is the conditioning embedding, `zero_convs.N.0` the down
 * residual convs and `middle_block_out.0` the mid one.
 */
export type ControlNetLayout = { kind: 'diffusers' } | { kind: 'original'; prefix: string };

const DIFFUSERS_PROBE = 'controlnet_cond_embedding.conv_in.weight';
const ORIGINAL_PROBE = 'input_hint_block.0.weight';

/** The layout of a ControlNet file; throws `unsupported-model` for files that hold no ControlNet. */
export function controlNetLayout(file: SafetensorsFile): ControlNetLayout {
  if (file.tensors.has(DIFFUSERS_PROBE)) return { kind: 'diffusers' };
  for (const prefix of ['control_model.', '']) {
    if (file.tensors.has(prefix + ORIGINAL_PROBE)) return { kind: 'original', prefix };
  }
  const sample = [...file.tensors.keys()].slice(0, 3).map((k) => `"${k}"`);
  throw new SdError(
    'unsupported-model',
    `"${file.fileName}" holds no ControlNet: found neither "${DIFFUSERS_PROBE}" (diffusers ControlNetModel) nor "control_model.${ORIGINAL_PROBE}" / "${ORIGINAL_PROBE}" (ControlNet 1.0 / 1.1 files); its tensors start ${sample.join(', ')}. Pass a ControlNet .safetensors file or diffusers ControlNet folder.`,
  );
}

/** The file key of a diffusers ControlNet key in the original layout. */
export function originalControlNetKey(key: string, config: Unet2dConditionConfig, embeddingBlocks: number): string {
  const cond = /^controlnet_cond_embedding\.(conv_in|conv_out|blocks\.(\d+))\.(.+)$/.exec(key);
  if (cond !== null) {
    const index =
      cond[1] === 'conv_in' ? 0 : cond[1] === 'conv_out' ? 2 * embeddingBlocks + 2 : 2 * Number(cond[2]) + 2;
    return `input_hint_block.${index}.${cond[3]}`;
  }
  const down = /^controlnet_down_blocks\.(\d+)\.(.+)$/.exec(key);
  if (down !== null) return `zero_convs.${down[1]}.0.${down[2]}`;
  if (key.startsWith('controlnet_mid_block.')) return `middle_block_out.0.${key.slice('controlnet_mid_block.'.length)}`;
  return ldmUnetKey(key, config);
}

/** The conditioning-embedding convolutions of a file, in order: [out, in] channels of each. */
function embeddingConvs(file: SafetensorsFile, layout: ControlNetLayout): [number, number][] {
  const key = (i: number): string =>
    layout.kind === 'diffusers'
      ? `controlnet_cond_embedding.${i === 0 ? 'conv_in' : `blocks.${i - 1}`}.weight`
      : `${layout.prefix}input_hint_block.${2 * i}.weight`;
  const convs: [number, number][] = [];
  for (let i = 0; file.tensors.has(key(i)); i++) {
    const shape = file.tensors.get(key(i))!.shape;
    convs.push([shape[0]!, shape[1]!]);
  }
  // the diffusers layout names the last conv conv_out
  if (layout.kind === 'diffusers') {
    const out = file.tensors.get('controlnet_cond_embedding.conv_out.weight')?.shape;
    if (out !== undefined) convs.push([out[0]!, out[1]!]);
  }
  return convs;
}

/**
 * The conditioning-embedding settings read from the file's shapes (what `ControlNetModel.from_unet`
 * would take as arguments): the control image's channels and the channels at each resolution.
 */
export function controlNetCondSettings(file: SafetensorsFile, layout: ControlNetLayout): ControlNetCondSettings {
  const convs = embeddingConvs(file, layout);
  // conv_in, then pairs (same width, stride 2 to the next), then conv_out
  if (convs.length < 2 || convs.length % 2 !== 0) {
    throw new SdError(
      'unsupported-model',
      `"${file.fileName}" has ${convs.length} conditioning-embedding convolutions; a ControlNet has conv_in, two per resolution step and conv_out.`,
    );
  }
  const out = [convs[0]![0]];
  for (let i = 2; i < convs.length - 1; i += 2) out.push(convs[i]![0]);
  return { conditioningChannels: convs[0]![1], conditioningEmbeddingOutChannels: out, channelOrder: 'rgb' };
}
