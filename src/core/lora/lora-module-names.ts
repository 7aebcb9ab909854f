import { ldmUnetKey } from '../checkpoint/unet-keys.ts';
import type { Unet2dConditionConfig } from '../graphs/unet-config.ts';

/** The model components a LoRA can patch, by their folder names. */
export type LoraComponent = 'unet' | 'text_encoder' | 'text_encoder_2';

/** What the names of one component's modules depend on: the UNet's layer counts give its LDM names. */
export interface LoraNaming {
  component: LoraComponent;
  /** The UNet's config (for kohya's SGM/LDM block names, `input_blocks_4_1_…`). */
  unetConfig?: Unet2dConditionConfig;
}

/** kohya's prefixes per component (SDXL's two encoders are `te1`/`te2`; SD 1.x/2.x's one is `te`). */
const KOHYA_PREFIXES: Readonly<Record<LoraComponent, readonly string[]>> = {
  unet: ['lora_unet_'],
  text_encoder: ['lora_te_', 'lora_te1_'],
  text_encoder_2: ['lora_te2_'],
};

/**
 * Every name a LoRA file may give the module whose weight is the diffusers key `weightKey`
 * (`down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.weight`), as A1111 matches them:
 * kohya's diffusers spelling (`lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q`),
 * kohya's SGM/LDM spelling of SDXL files (`lora_unet_input_blocks_1_1_transformer_blocks_0_attn1_to_q`,
 * resnets as `in_layers_2`, `out_layers_3`, `skip_connection`, `emb_layers_1`, samplers as `op`/`conv`),
 * and diffusers/PEFT's dotted names (`unet.down_blocks.0….to_q`). Empty for keys that are no weight.
 */
export function loraModuleNames(weightKey: string, naming: LoraNaming): string[] {
  if (!weightKey.endsWith('.weight')) return [];
  const module = weightKey.slice(0, -'.weight'.length);
  const flat = module.replace(/\./g, '_');
  const names = KOHYA_PREFIXES[naming.component].map((p) => p + flat);
  if (naming.component === 'unet' && naming.unetConfig !== undefined) {
    const ldm = ldmUnetKey(weightKey, naming.unetConfig).slice(0, -'.weight'.length).replace(/\./g, '_');
    if (ldm !== flat) names.push(`lora_unet_${ldm}`);
  }
  names.push(`${naming.component}.${module}`);
  return names;
}
