import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openControlNet } from '../../../src/core/models/controlnet-model.ts';
import { loadControlNet } from '../../../src/core/models/load-controlnet.ts';
import { loadModel, type LoadedModel } from '../../../src/core/models/load-model.ts';
import { openSingleFileModel } from '../../../src/core/models/single-file-model.ts';
import { CpuLatentBackend } from '../../../src/core/pipeline/cpu-latent-backend.ts';
import { generate } from '../../../src/core/pipeline/generate.ts';
import type { GenerateRequest } from '../../../src/core/pipeline/request.ts';
import { decodePng } from '../../../src/core/png/png.ts';
import type { Runtime } from '../../../src/core/runtime/runtime.ts';
import { BUNDLED_MERGES } from '../../../src/cli/bundled.ts';
import { folderModelFiles } from '../../../src/cli/fs-model-files.ts';
import { nodeWeightsFile } from '../../../src/cli/node-weights-file.ts';
import {
  compareImages,
  CONTROLNET_CASES_DIR,
  readControlNetCase,
  TOLERANCE,
  type ControlNetCase,
} from '../../oracle/cases.ts';
import { FIXTURES } from '../../fixtures.ts';
import { caseRequest, nodeRuntime } from './fixture-models.ts';

const SINGLE_FILE = resolve(FIXTURES, 'single-file');
const CASES = CONTROLNET_CASES_DIR;
const closers: (() => Promise<void>)[] = [];

/** The tiny SD 1.x single file, its UNet with or without ControlNet inputs, and the tiny ControlNet when asked. */
async function tinyModel(runtime: Runtime, withControl: boolean): Promise<LoadedModel> {
  const weights = await nodeWeightsFile(resolve(SINGLE_FILE, 'tiny-sd15.safetensors'));
  closers.push(() => weights.close());
  const built = await openSingleFileModel(weights, {
    config: folderModelFiles(resolve(SINGLE_FILE, 'tiny-sd15-diffusers')),
    controlResiduals: withControl,
  });
  const model = await loadModel(built.files, runtime, { fallbackMerges: () => readFile(BUNDLED_MERGES, 'utf8') });
  closers.push(() => model.release());
  if (!withControl) return model;
  const cnWeights = await nodeWeightsFile(resolve(SINGLE_FILE, 'tiny-controlnet.safetensors'));
  closers.push(() => cnWeights.close());
  const net = await loadControlNet(await openControlNet(cnWeights, await built.baseUnet()), runtime, 'tiny-controlnet');
  closers.push(() => net.release());
  return { ...model, controlNets: [net] };
}

function requestOf(c: ControlNetCase, weight = c.control_weight): GenerateRequest {
  const image = decodePng(new Uint8Array(readFileSync(resolve(CASES, c.control_image))));
  return {
    ...caseRequest(c),
    controlNets: [
      {
        image: { rgb: image.rgb, width: image.width, height: image.height },
        weight,
        start: c.control_start,
        end: c.control_end,
      },
    ],
  };
}

const cases = ['cn-sd15-circles-euler-12', 'cn-sd15-lines-w0.6-end0.5-dpmpp2mk-10'].map(readControlNetCase);

afterAll(async () => {
  for (const close of closers.reverse()) await close();
});

describe('generate with a ControlNet', () => {
  it.each(cases)(
    '$id: the device loop (residuals fed as model inputs) matches the reference and the CPU loop',
    async (c) => {
      const cpu = await nodeRuntime();
      const device: Runtime = { ...cpu, latentBackend: (options) => new CpuLatentBackend(cpu, options) };
      const model = await tinyModel(cpu, true);
      const onCpu = await generate(model, cpu, requestOf(c));
      const onDevice = await generate(model, device, requestOf(c));
      expect(onDevice.loop).toEqual({ kind: 'device', latentReads: 0 });
      const ref = decodePng(new Uint8Array(readFileSync(resolve(CASES, `${c.id}.png`)))).rgb;
      for (const result of [onCpu, onDevice]) {
        const diff = compareImages(result.images[0]!.rgb, ref);
        expect(diff.mean).toBeLessThanOrEqual(TOLERANCE.mean);
        expect(diff.max).toBeLessThanOrEqual(TOLERANCE.max);
      }
    },
    60_000,
  );

  it('weight 0 feeds zero residuals: the image of the UNet without ControlNet inputs', async () => {
    const runtime = await nodeRuntime();
    const c = cases[0]!;
    const steered = await generate(await tinyModel(runtime, true), runtime, requestOf(c, 0));
    const { controlNets: _none, ...plain } = requestOf(c);
    void _none;
    const free = await generate(await tinyModel(runtime, false), runtime, plain);
    expect(compareImages(steered.images[0]!.rgb, free.images[0]!.rgb).max).toBe(0);
    // and the control acts: the steered image moves far from it at weight 1
    const full = await generate(await tinyModel(runtime, true), runtime, requestOf(c));
    expect(compareImages(full.images[0]!.rgb, free.images[0]!.rgb).mean).toBeGreaterThan(5);
  }, 60_000);
});
