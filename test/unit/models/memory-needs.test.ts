import { describe, expect, it } from 'vitest';
import { checkMemoryNeeds, describeNeeds, memoryNeeds } from '../../../src/core/models/memory-needs.ts';
import type { SafetensorsTensorInfo } from '../../../src/core/safetensors/safetensors-header.ts';

/** Fake header entries totalling `params` float16 elements, in tensors of at most `per` elements. */
function tensors(prefix: string, params: number, dtype: 'F16' | 'F32' = 'F16', per = 2 ** 22): SafetensorsTensorInfo[] {
  const out: SafetensorsTensorInfo[] = [];
  for (let left = params, i = 0; left > 0; i++, left -= per) {
    const n = Math.min(per, left);
    out.push({
      name: `${prefix}.${i}`,
      dtype,
      shape: [n],
      offset: 0,
      byteLength: n * (dtype === 'F16' ? 2 : 4),
    } as SafetensorsTensorInfo);
  }
  return out;
}

const NO_F16 = { hasShaderF16: false, maxBufferSize: 2 ** 31, maxStorageBufferBindingSize: 2 ** 31 };

describe('memory rule', () => {
  it('lets a float16 SD 1.5 (2 GB) run on an adapter without shader-f16: 3.4 GB float32 UNet, converted copy counted', () => {
    const needs = memoryNeeds(
      [
        { component: 'unet', tensors: tensors('model.diffusion_model', 859_520_964) },
        { component: 'vae', tensors: tensors('first_stage_model', 83_653_863) },
        { component: 'text_encoder', tensors: tensors('cond_stage_model', 123_060_480) },
        { component: 'other', tensors: tensors('betas', 1000, 'F32') },
      ],
      512,
    );
    expect(needs.fileBytes / 1e9).toBeCloseTo(2.13, 1);
    expect(needs.componentBytes['unet']! / 1e9).toBeCloseTo(3.44, 2);
    expect(needs.convertedBytes / 1e9).toBeCloseTo(4.26, 1);
    expect(() => checkMemoryNeeds(needs, NO_F16, 'sd15.safetensors')).not.toThrow();
    expect(describeNeeds(needs)).toMatch(/GB of storage .* GB of GPU memory/);
  });

  it('refuses SDXL on the browser path with the reason (10.3 GB float32 UNet)', () => {
    const needs = memoryNeeds([{ component: 'unet', tensors: tensors('model.diffusion_model', 2_567_463_684) }], 1024);
    expect(() => checkMemoryNeeds(needs, NO_F16, 'sdxl.safetensors')).toThrowError(
      /unet needs 10\.3 GB of float32 weights.*4 GiB.*no shader-f16/,
    );
  });

  it('refuses a weight larger than one storage buffer binding, naming it', () => {
    const needs = memoryNeeds([{ component: 'unet', tensors: tensors('big', 2 ** 28, 'F16', 2 ** 28) }], 512);
    expect(() =>
      checkMemoryNeeds(
        needs,
        { hasShaderF16: true, maxBufferSize: 2 ** 30, maxStorageBufferBindingSize: 2 ** 27 },
        'x',
      ),
    ).toThrowError(/unet weight big\.0 needs 1\.1 GB as float32.*maxStorageBufferBindingSize 134217728/);
  });
});
