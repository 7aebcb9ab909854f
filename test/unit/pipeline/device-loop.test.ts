import { describe, expect, it } from 'vitest';
import { isSdError } from '../../../src/core/errors.ts';
import { CpuLatentBackend } from '../../../src/core/pipeline/cpu-latent-backend.ts';
import { denoiseOnDevice } from '../../../src/core/pipeline/device-loop.ts';
import { img2imgBeginIndex } from '../../../src/core/pipeline/generate.ts';
import type { SourceId } from '../../../src/core/runtime/latent-backend.ts';
import { planLinearLoop } from '../../../src/core/pipeline/linear-plan.ts';
import type { Progress } from '../../../src/core/pipeline/progress.ts';
import { emptyTimings } from '../../../src/core/pipeline/timings.ts';
import { TorchCpuGenerator } from '../../../src/core/rng/torch-cpu-generator.ts';
import { createScheduler, SAMPLER_NAMES } from '../../../src/core/schedulers/registry.ts';
import { modelConfigs, SHAPE } from '../schedulers/harness.ts';
import { cpuLoop, deviceLoop, loopSpec, maxRelDiff, type LoopCase } from './loop-runs.ts';
import { SyntheticUnet, TENSOR_RUNTIME } from './synthetic-unet.ts';

const configs = modelConfigs();
const STEP_COUNTS = [1, 4, 25];
/**
 * The device loop sums Σ c_j · source_j where the CPU loop updates the latents step by step: the same
 * arithmetic in another order, so float32 rounding differs. Measured worst case over the grid below:
 * 7e-5 of the largest latent (25 steps; the tanh model amplifies differences a little).
 */
const REL_TOLERANCE = 2e-4;

/** Whether the request is one generate() accepts (PLMS with Runge-Kutta warm-up needs 4 steps; img2img must leave a step). */
function isRunnable(c: LoopCase): boolean {
  let scheduler;
  try {
    scheduler = createScheduler({ config: c.config, sampler: c.sampler, steps: c.steps });
  } catch (e) {
    if (isSdError(e, 'bad-argument')) return false;
    throw e;
  }
  return (
    c.strength === undefined || img2imgBeginIndex(c.steps, c.strength, scheduler.order) < scheduler.timesteps.length
  );
}

/** DDIM and DDPM clip x0 unless the config says clip_sample: false (the SD-Turbo config does not). */
function clipsSample(sampler: string, config: Record<string, unknown>): boolean {
  return (sampler === 'DDIM' || sampler === 'DDPM') && config['clip_sample'] !== false;
}

describe.each(SAMPLER_NAMES)('device loop with %s', (sampler) => {
  it.each(Object.keys(configs))(
    'gives the CPU loop latents on %s (txt2img and img2img, 1, 4, 25 steps), or refuses a clipping config',
    async (model) => {
      const config = configs[model]!;
      for (const steps of STEP_COUNTS) {
        for (const strength of [undefined, 0.6]) {
          const c: LoopCase = { config, sampler, steps, strength };
          if (!isRunnable(c)) continue;
          const device = await deviceLoop(c);
          if (clipsSample(sampler, config)) {
            expect(device).toMatch(/clip_sample/);
            continue;
          }
          if (typeof device === 'string') throw new Error(`refused ${sampler} on ${model}: ${device}`);
          const cpu = await cpuLoop(c);
          expect(maxRelDiff(cpu, device.latents), `${steps} steps, strength ${strength}`).toBeLessThanOrEqual(
            REL_TOLERANCE,
          );
          expect(device.backend.readCount).toBe(0);
        }
      }
    },
  );
});

describe('device loop', () => {
  const config = configs['tiny-sd15']!;

  it.each([
    ['two runs of batch 1', [1, 1]],
    ['no guidance', [1]],
  ] as const)('gives the CPU loop latents with %s', async (_, passes) => {
    for (const sampler of ['Euler a', 'DPM++ 2M SDE Karras', 'Heun', 'UniPC']) {
      const c: LoopCase = { config, sampler, steps: 8, passes, cfg: 7.5 };
      const device = await deviceLoop(c);
      if (typeof device === 'string') throw new Error(device);
      expect(maxRelDiff(await cpuLoop(c), device.latents)).toBeLessThanOrEqual(REL_TOLERANCE);
      expect(device.unet.runs).toBe(
        8 * (sampler === 'Heun' ? 2 : 1) * passes.length - (sampler === 'Heun' ? passes.length : 0),
      );
    }
  });

  it('sends the same progress events, previews read back only when due', async () => {
    const events = (into: Progress[]) => ({ onProgress: (p: Progress) => into.push(p) });
    const cpuEvents: Progress[] = [];
    const deviceEvents: Progress[] = [];
    const c: LoopCase = { config, sampler: 'DPM++ 2M Karras', steps: 10, previewEvery: 4 };
    await cpuLoop({ ...c, hooks: events(cpuEvents) });
    const device = await deviceLoop({ ...c, hooks: events(deviceEvents) });
    if (typeof device === 'string') throw new Error(device);
    const shape = (p: Progress) => (p.kind === 'denoise' ? [p.step, p.steps, p.preview !== undefined] : p.kind);
    expect(deviceEvents.map(shape)).toEqual(cpuEvents.map(shape));
    // previews at steps 4, 8 and the last
    expect(device.backend.readCount).toBe(3);
    deviceEvents.forEach((p, k) => {
      const q = cpuEvents[k]!;
      if (p.kind !== 'denoise' || q.kind !== 'denoise' || !p.preview || !q.preview) return;
      const worst = p.preview.rgb.reduce((m, v, i) => Math.max(m, Math.abs(v - q.preview!.rgb[i]!)), 0);
      expect(worst).toBeLessThanOrEqual(1);
    });
  });

  it('frees every source once no combination needs it, and all of them when cancelled', async () => {
    class Tracking extends CpuLatentBackend {
      live = new Set<SourceId>();
      override upload(values: Float32Array): SourceId {
        const id = super.upload(values);
        this.live.add(id);
        return id;
      }
      override release(ids: readonly SourceId[]): void {
        for (const id of ids) this.live.delete(id);
        super.release(ids);
      }
    }
    const c: LoopCase = { config, sampler: 'Euler a', steps: 6 };
    const spec = loopSpec(c);
    const plan = planLinearLoop(spec);
    const run = async (isCancelled: () => boolean) => {
      const backend = new Tracking(TENSOR_RUNTIME, { latentShape: SHAPE });
      const rng = new TorchCpuGenerator(1);
      const ctx = {
        scheduler: spec.createScheduler(),
        begin: 0,
        shape: SHAPE,
        hooks: { isCancelled },
        timings: emptyTimings(),
        image: 0,
        images: 1,
        previewEvery: 0,
      };
      const out = await denoiseOnDevice(
        ctx,
        new SyntheticUnet(config, [2], spec.guidanceScale),
        backend,
        plan,
        rng,
        [rng.randn(SHAPE)],
        { scale: 1, type: 'float32' },
      ).catch((e: unknown) => e);
      return { backend, out };
    };
    const done = await run(() => false);
    expect(done.backend.live.size).toBe(0);
    let polls = 0;
    const cancelled = await run(() => ++polls > 3);
    expect(isSdError(cancelled.out, 'cancelled')).toBe(true);
    expect(cancelled.backend.live.size).toBe(0);
  });
});
