// The device loop on the real stack minus the page: onnxruntime-web's WebGPU EP in Node (Dawn on
// SwiftShader), the UNet fed from and writing to the WebGPU latent backend's buffers, a reference
// case end to end. SwiftShader compiles the fixture's shaders for about half a minute and runs a UNet
// call in 1-3 s, so this file keeps to one model load and few calls.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DawnDevice } from '../../src/platform/webgpu/dawn.ts';
import { loadModel, type LoadedModel } from '../../src/core/models/load-model.ts';
import { generate } from '../../src/core/pipeline/generate.ts';
import type { Runtime } from '../../src/core/runtime/runtime.ts';
import { createWebGpuRuntime, type OrtWeb } from '../../src/platform/ort/web-runtimes.ts';
import { openTestDevice } from '../unit/platform/webgpu/dawn.ts';
import { caseRequest, fixtureFiles } from '../unit/pipeline/fixture-models.ts';
import { compareImages, referencePng } from '../oracle/cases.ts';
import { expectWithinTolerance, referenceCase } from './harness/references.ts';

const TIMEOUT_MS = 240_000;

let dawn: DawnDevice;
let ort: OrtWeb;
let model: LoadedModel;

/** The runtime with the WebGPU latent backend, UNet outputs bound to its buffers or left to the session. */
function withBackend(preallocateOutputs: boolean): Runtime {
  return createWebGpuRuntime(ort, dawn.device, { label: 'onnxruntime-web (webgpu, Dawn)', preallocateOutputs });
}

beforeAll(async () => {
  dawn = await openTestDevice();
  // after Dawn is navigator.gpu
  ort = await import('onnxruntime-web/webgpu');
  ort.env.wasm.numThreads = 1;
  model = await loadModel(fixtureFiles('tiny-sd15'), withBackend(true));
}, TIMEOUT_MS);

afterAll(async () => {
  await model?.release();
  dawn?.device.destroy();
});

describe('device loop on onnxruntime-web WebGPU (Dawn, SwiftShader)', () => {
  it(
    'matches the reference with UNet outputs written into the backend, reading no latents',
    async () => {
      const c = referenceCase('sd15-eulera-10');
      const result = await generate(model, withBackend(true), caseRequest(c));
      expect(result.loop).toEqual({ kind: 'device', latentReads: 0 });
      expectWithinTolerance(result.images[0]!.rgb, referencePng(c).rgb, c.id);
    },
    TIMEOUT_MS,
  );

  it(
    'counts the outputs a session returns on the CPU, and gives the same image',
    async () => {
      const c = referenceCase('sd15-eulera-10');
      const request = { ...caseRequest(c), steps: 2 };
      const onDevice = await generate(model, withBackend(true), request);
      // without pre-allocated outputs this session (default output location) returns CPU tensors
      const viaCpu = await generate(model, withBackend(false), request);
      expect(viaCpu.loop).toEqual({ kind: 'device', latentReads: 4 });
      expect(compareImages(viaCpu.images[0]!.rgb, onDevice.images[0]!.rgb).max).toBeLessThanOrEqual(1);
    },
    TIMEOUT_MS,
  );
});
