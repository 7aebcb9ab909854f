import { afterAll, describe, expect, it } from 'vitest';
import type { LoadedModel } from '../../../src/core/models/load-model.ts';
import { CpuLatentBackend } from '../../../src/core/pipeline/cpu-latent-backend.ts';
import { generate, type GenerateResult } from '../../../src/core/pipeline/generate.ts';
import type { GenerateRequest } from '../../../src/core/pipeline/request.ts';
import type { Runtime } from '../../../src/core/runtime/runtime.ts';
import { compareImages, loadCases, referencePng, TOLERANCE, type ReferenceCase } from '../../oracle/cases.ts';
import { caseRequest, loadFixture, nodeRuntime } from './fixture-models.ts';

const cases = new Map(loadCases().map((c) => [c.id, c]));
const models = new Map<string, Promise<LoadedModel>>();
const modelFor = (name: string) => {
  if (!models.has(name)) models.set(name, loadFixture(name));
  return models.get(name)!;
};

/** onnxruntime-node with the CPU latent backend: generate() takes the device loop. */
async function deviceRuntime(): Promise<Runtime> {
  const cpu = await nodeRuntime();
  return { ...cpu, name: `${cpu.name} + cpu latents`, latentBackend: (options) => new CpuLatentBackend(cpu, options) };
}

async function both(
  c: ReferenceCase,
  request: GenerateRequest = caseRequest(c),
): Promise<{ cpu: GenerateResult; device: GenerateResult }> {
  const model = await modelFor(c.model);
  const cpu = await generate(model, await nodeRuntime(), request);
  const device = await generate(model, await deviceRuntime(), request);
  return { cpu, device };
}

afterAll(async () => {
  for (const model of models.values()) await (await model).release();
});

describe('generate with a latent backend, on the fixture UNets', () => {
  // batched guidance (Euler, ancestral, img2img, SDXL with Karras sigmas), guidance in two runs
  // (2 prompt chunks against 1), no guidance (turbo)
  it.each([
    'sd15-euler-20',
    'sd15-eulera-10',
    'sd15-img2img-euler-075',
    'a1-long-2chunks',
    'sdxl-dpmppsdek-6-g2',
    'turbo-1step',
  ])('%s: the device loop matches the reference and the CPU loop, with no latent read', async (id) => {
    const c = cases.get(id)!;
    const { cpu, device } = await both(c);
    expect(device.loop).toEqual({ kind: 'device', latentReads: 0 });
    expect(cpu.loop.kind).toBe('cpu');
    const ref = referencePng(c).rgb;
    const toReference = compareImages(device.images[0]!.rgb, ref);
    expect(toReference.mean).toBeLessThanOrEqual(TOLERANCE.mean);
    expect(toReference.max).toBeLessThanOrEqual(TOLERANCE.max);
    // the same arithmetic in another order: at most one level apart from the CPU loop
    expect(compareImages(device.images[0]!.rgb, cpu.images[0]!.rgb).max).toBeLessThanOrEqual(1);
  });

  it('falls back to the CPU loop for a clipping scheduler (DDIM on the SD-Turbo config), with the same image', async () => {
    const c = cases.get('turbo-1step')!;
    const { cpu, device } = await both(c, { ...caseRequest(c), sampler: 'DDIM', steps: 3 });
    expect(device.loop.kind).toBe('cpu');
    expect(device.loop.reason).toMatch(/clip_sample/);
    expect(cpu.loop.reason).toBeUndefined();
    expect(Array.from(device.images[0]!.rgb)).toEqual(Array.from(cpu.images[0]!.rgb));
  });

  it('reads back only the previews that are due', async () => {
    const c = cases.get('sd15-eulera-10')!;
    const previews: number[] = [];
    const model = await modelFor(c.model);
    const result = await generate(
      model,
      await deviceRuntime(),
      { ...caseRequest(c), previewEvery: 3 },
      {
        onProgress: (p) => {
          if (p.kind === 'denoise' && p.preview) previews.push(p.step);
        },
      },
    );
    expect(previews).toEqual([3, 6, 9, 10]);
    expect(result.loop.latentReads).toBe(4);
  });
});
