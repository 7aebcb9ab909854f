import { bytesByteSource } from '../../../src/core/safetensors/byte-source.ts';
import { SafetensorsFile } from '../../../src/core/safetensors/safetensors-file.ts';
import { buildSafetensors } from '../safetensors/safetensors-fixture.ts';

/** A checkpoint holding only the given keys and shapes (float16 zeros): enough for detection and key maps. */
export async function headerOnly(tensors: Record<string, number[]>): Promise<SafetensorsFile> {
  const entries = Object.entries(tensors).map(([name, shape]) => [
    name,
    { dtype: 'F16', shape, bytes: new Uint8Array(2 * shape.reduce((a, b) => a * b, 1)) },
  ]);
  return SafetensorsFile.open(bytesByteSource(buildSafetensors(Object.fromEntries(entries))), 'checkpoint.safetensors');
}

/** The keys diffusers detects each family by, as a small checkpoint has them. */
export const DETECTION_KEYS = {
  convIn: 'model.diffusion_model.input_blocks.0.0.weight',
  toK: 'model.diffusion_model.input_blocks.2.1.transformer_blocks.0.attn2.to_k.weight',
  sdxl: 'conditioner.embedders.1.model.transformer.resblocks.9.mlp.c_proj.bias',
  refiner: 'conditioner.embedders.0.model.transformer.resblocks.9.mlp.c_proj.bias',
} as const;
