import { SdError } from '../errors.ts';
import type { SafetensorsFile } from '../safetensors/safetensors-file.ts';

/** Model families a single-file checkpoint is recognised as (diffusers' `infer_diffusers_model_type` subset). */
export type CheckpointArchitecture = 'sd1' | 'sd2' | 'sdxl-base' | 'sdxl-refiner';

/** What {@link detectArchitecture} found. */
export interface DetectedArchitecture {
  architecture: CheckpointArchitecture;
  /** 9 UNet input channels (latents, mask, masked-image latents). */
  isInpainting: boolean;
}

/** The keys diffusers tells the families apart by. */
export const ARCHITECTURE_KEYS = {
  /** Its second dimension is the UNet's input channel count: 9 for inpainting. */
  convIn: 'model.diffusion_model.input_blocks.0.0.weight',
  /** Cross-attention key projection: last dimension 1024 (OpenCLIP ViT-H) for SD 2.x. */
  sd2: 'model.diffusion_model.input_blocks.2.1.transformer_blocks.0.attn2.to_k.weight',
  sdxlBase: 'conditioner.embedders.1.model.transformer.resblocks.9.mlp.c_proj.bias',
  sdxlRefiner: 'conditioner.embedders.0.model.transformer.resblocks.9.mlp.c_proj.bias',
} as const;

/**
 * Finds the family of an LDM checkpoint from its keys and shapes, in diffusers' order: SD 2.x
 * (cross-attention context width 1024), SDXL base (a 10th OpenCLIP block in the second embedder),
 * SDXL refiner (the same in the first), else SD 1.x when it has an LDM UNet at all. Throws
 * `unsupported-model` naming the keys looked for when none matches.
 */
export function detectArchitecture(file: SafetensorsFile): DetectedArchitecture {
  const convIn = file.tensors.get(ARCHITECTURE_KEYS.convIn);
  const sd2 = file.tensors.get(ARCHITECTURE_KEYS.sd2);
  const isInpainting = convIn?.shape[1] === 9;
  if (sd2 !== undefined && sd2.shape.at(-1) === 1024) return { architecture: 'sd2', isInpainting };
  if (file.tensors.has(ARCHITECTURE_KEYS.sdxlBase)) return { architecture: 'sdxl-base', isInpainting };
  if (file.tensors.has(ARCHITECTURE_KEYS.sdxlRefiner)) return { architecture: 'sdxl-refiner', isInpainting };
  if (convIn !== undefined) return { architecture: 'sd1', isInpainting };
  throw new SdError(
    'unsupported-model',
    `"${file.fileName}" is not a Stable Diffusion checkpoint this app recognises: it has none of the keys ` +
      `${Object.values(ARCHITECTURE_KEYS)
        .map((k) => `"${k}"`)
        .join(', ')} (${file.tensors.size} tensors, e.g. ` +
      `${[...file.tensors.keys()]
        .slice(0, 3)
        .map((k) => `"${k}"`)
        .join(', ')}). ` +
      'If it is a full model in another layout, pass the diffusers folder (or Hub repo) it comes from with --config.',
  );
}
