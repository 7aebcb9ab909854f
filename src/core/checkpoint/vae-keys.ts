import type { AutoencoderKlConfig } from '../graphs/autoencoder-kl-config.ts';
import type { WeightSource } from '../graphs/safetensors-weights.ts';

/**
 * diffusers `AutoencoderKL` keys → the original LDM (`first_stage_model.*`) keys, the inverse of
 * diffusers' `convert_ldm_vae_checkpoint`. The LDM decoder numbers its up levels from the latent
 * side's opposite end (`decoder.up.{n-1-i}` is diffusers' `up_blocks.i`), and the mid-block
 * attention keeps 1×1 conv weights `[C, C, 1, 1]` where diffusers has linear `[C, C]`.
 */

/** Mid-block attention submodule (diffusers `Attention`) → LDM `AttnBlock` submodule. */
const ATTENTION_PARTS: Readonly<Record<string, string>> = {
  group_norm: 'norm',
  to_q: 'q',
  to_k: 'k',
  to_v: 'v',
  'to_out.0': 'proj_out',
};

function resnetRest(rest: string): string {
  return rest.replace(/^conv_shortcut\./, 'nin_shortcut.');
}

/** The LDM key (without `first_stage_model.`) of a diffusers VAE key; unknown keys come back unchanged. */
export function ldmVaeKey(key: string, config: AutoencoderKlConfig): string {
  const levels = config.blockOutChannels.length;
  let m = /^(encoder|decoder)\.conv_norm_out\.(.+)$/.exec(key);
  if (m !== null) return `${m[1]}.norm_out.${m[2]}`;
  m = /^(encoder|decoder)\.mid_block\.resnets\.(\d+)\.(.+)$/.exec(key);
  if (m !== null) return `${m[1]}.mid.block_${Number(m[2]) + 1}.${resnetRest(m[3]!)}`;
  m = /^(encoder|decoder)\.mid_block\.attentions\.0\.(group_norm|to_q|to_k|to_v|to_out\.0)\.(.+)$/.exec(key);
  if (m !== null) return `${m[1]}.mid.attn_1.${ATTENTION_PARTS[m[2]!]}.${m[3]}`;
  m = /^encoder\.down_blocks\.(\d+)\.(resnets\.(\d+)|downsamplers\.0)\.(.+)$/.exec(key);
  if (m !== null)
    return m[3] !== undefined
      ? `encoder.down.${m[1]}.block.${m[3]}.${resnetRest(m[4]!)}`
      : `encoder.down.${m[1]}.downsample.${m[4]}`;
  m = /^decoder\.up_blocks\.(\d+)\.(resnets\.(\d+)|upsamplers\.0)\.(.+)$/.exec(key);
  if (m !== null) {
    const level = levels - 1 - Number(m[1]);
    return m[3] !== undefined
      ? `decoder.up.${level}.block.${m[3]}.${resnetRest(m[4]!)}`
      : `decoder.up.${level}.upsample.${m[4]}`;
  }
  return key;
}

/**
 * The {@link WeightSource} of a diffusers VAE weight in a checkpoint: its LDM key under `prefix`,
 * with the mid-block attention's linear weights `[C, C]` read from 1×1 conv weights `[C, C, 1, 1]`
 * (same bytes) when the file stores them that way (`fileRank` gives the stored tensor's rank).
 */
export function ldmVaeSource(
  key: string,
  expectedShape: readonly number[],
  config: AutoencoderKlConfig,
  prefix: string,
  fileRank: (fileKey: string) => number | undefined,
): WeightSource {
  const tensor = prefix + ldmVaeKey(key, config);
  const isAttentionWeight = /\.mid_block\.attentions\.0\.(to_q|to_k|to_v|to_out\.0)\.weight$/.test(key);
  if (isAttentionWeight && expectedShape.length === 2 && fileRank(tensor) === 4)
    return { tensor, shape: [...expectedShape, 1, 1] };
  return { tensor };
}
