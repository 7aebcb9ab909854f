import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { AdapterSummary } from '../../../workers/api.ts';
import { firstChoice, gpuObstacle } from '../../../workers/backend-choice.ts';
import { scanOnnx } from '../../../workers/onnx-scan.ts';
import { MODELS } from '../../fixtures.ts';

/** The adapter headless Chromium reports with --use-webgpu-adapter=swiftshader (see DESIGN.md). */
const SWIFTSHADER: AdapterSummary = {
  vendor: 'google',
  architecture: 'swiftshader',
  description: '',
  hasShaderF16: false,
  maxBufferSize: 1024 ** 3,
  maxStorageBufferBindingSize: 1024 ** 3,
};

function scan(model: string, component: string) {
  return scanOnnx(new Uint8Array(readFileSync(resolve(MODELS, model, component, 'model.onnx'))));
}

describe('backend choice', () => {
  it('starts on WebGPU when there is an adapter, on WASM with the reason otherwise', () => {
    expect(firstChoice('auto', SWIFTSHADER, undefined)).toEqual({
      backend: 'webgpu',
      reason: 'WebGPU adapter google swiftshader',
    });
    expect(firstChoice('auto', undefined, 'WebGPU found no usable adapter')).toEqual({
      backend: 'wasm',
      reason: 'no WebGPU: WebGPU found no usable adapter',
    });
    expect(firstChoice('wasm', SWIFTSHADER, undefined).backend).toBe('wasm');
  });

  it('sends the float16 fixture to WASM without shader-f16, and keeps it on WebGPU with it', () => {
    const turbo = scan('tiny-sd-turbo', 'text_encoder');
    expect(gpuObstacle(turbo, SWIFTSHADER, 'text_encoder')).toBe(
      'text_encoder has float16 tensors and the adapter lacks shader-f16',
    );
    expect(gpuObstacle(turbo, { ...SWIFTSHADER, hasShaderF16: true }, 'text_encoder')).toBeUndefined();
    expect(gpuObstacle(scan('tiny-sd15', 'text_encoder'), SWIFTSHADER, 'text_encoder')).toBeUndefined();
  });

  it('refuses a weight larger than the adapter can bind', () => {
    const encoder = scan('tiny-sd15', 'text_encoder');
    const small = { ...SWIFTSHADER, maxStorageBufferBindingSize: encoder.largestTensorBytes - 1 };
    expect(gpuObstacle(encoder, small, 'text_encoder')).toMatch(/above the adapter's buffer limit/);
  });
});
