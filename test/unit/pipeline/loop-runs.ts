import { CpuLatentBackend } from '../../../src/core/pipeline/cpu-latent-backend.ts';
import { denoiseOnCpu } from '../../../src/core/pipeline/cpu-loop.ts';
import { denoiseOnDevice } from '../../../src/core/pipeline/device-loop.ts';
import { img2imgBeginIndex } from '../../../src/core/pipeline/generate.ts';
import { guidanceScale } from '../../../src/core/pipeline/guidance.ts';
import type { LinearPlan, LoopSpec } from '../../../src/core/pipeline/linear-plan.ts';
import { planDeviceLoop } from '../../../src/core/pipeline/linearity.ts';
import type { LoopContext, LoopHooks } from '../../../src/core/pipeline/loop-context.ts';
import { emptyTimings } from '../../../src/core/pipeline/timings.ts';
import { TorchCpuGenerator } from '../../../src/core/rng/torch-cpu-generator.ts';
import { createScheduler } from '../../../src/core/schedulers/registry.ts';
import type { RawSchedulerConfig } from '../../../src/core/schedulers/scheduler.ts';
import { cleanLatents, SHAPE } from '../schedulers/harness.ts';
import { SyntheticUnet, TENSOR_RUNTIME } from './synthetic-unet.ts';

/** One loop configuration both loops run. */
export interface LoopCase {
  config: RawSchedulerConfig;
  sampler: string;
  steps: number;
  /** img2img strength, or undefined for txt2img. */
  strength?: number;
  passes?: readonly number[];
  cfg?: number;
  seed?: number;
  hooks?: LoopHooks;
  previewEvery?: number;
}

function context(c: LoopCase, begin: number, hooks: LoopHooks = {}): LoopContext {
  const scheduler = createScheduler({ config: c.config, sampler: c.sampler, steps: c.steps });
  return {
    scheduler,
    begin,
    shape: SHAPE,
    hooks,
    timings: emptyTimings(),
    image: 0,
    images: 1,
    previewEvery: c.previewEvery ?? 0,
  };
}

/** The arrays drawn before the loop, from a fresh generator (img2img: fixed init latents, then the noise). */
function startArrays(c: LoopCase, rng: TorchCpuGenerator): Float32Array[] {
  return c.strength === undefined ? [rng.randn(SHAPE)] : [cleanLatents().map((v) => v * 0.9), rng.randn(SHAPE)];
}

export function loopSpec(c: LoopCase): LoopSpec {
  const probe = createScheduler({ config: c.config, sampler: c.sampler, steps: c.steps });
  const passes = c.passes ?? [2];
  return {
    createScheduler: () => createScheduler({ config: c.config, sampler: c.sampler, steps: c.steps }),
    begin: c.strength === undefined ? 0 : img2imgBeginIndex(c.steps, c.strength, probe.order),
    startCount: c.strength === undefined ? 1 : 2,
    halves: passes.reduce((n, p) => n + p, 0),
    guidanceScale: guidanceScale(c.cfg ?? 5),
    shape: SHAPE,
  };
}

/** The CPU loop's final latents. */
export async function cpuLoop(c: LoopCase): Promise<Float32Array> {
  const spec = loopSpec(c);
  const rng = new TorchCpuGenerator(c.seed ?? 42);
  const unet = new SyntheticUnet(c.config, c.passes ?? [2], spec.guidanceScale);
  return denoiseOnCpu(context(c, spec.begin, c.hooks), unet, rng, startArrays(c, rng));
}

export interface DeviceRun {
  latents: Float32Array;
  plan: LinearPlan;
  backend: CpuLatentBackend;
  unet: SyntheticUnet;
}

/** The device loop's final latents on the CPU backend, or why the plan was refused. */
export async function deviceLoop(c: LoopCase): Promise<DeviceRun | string> {
  const spec = loopSpec(c);
  const planned = planDeviceLoop(spec, c.config, c.sampler);
  if (!planned.plan) return planned.reason;
  const rng = new TorchCpuGenerator(c.seed ?? 42);
  const unet = new SyntheticUnet(c.config, c.passes ?? [2], spec.guidanceScale);
  const backend = new CpuLatentBackend(TENSOR_RUNTIME, { latentShape: SHAPE });
  const out = await denoiseOnDevice(
    context(c, spec.begin, c.hooks),
    unet,
    backend,
    planned.plan,
    rng,
    startArrays(c, rng),
    { scale: 1, type: 'float32' },
  );
  return { latents: out.data as Float32Array, plan: planned.plan, backend, unet };
}

/** Largest |a - b| relative to the largest |a|. */
export function maxRelDiff(a: Float32Array, b: Float32Array): number {
  let diff = 0;
  let size = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs((a[i] as number) - (b[i] as number)));
    size = Math.max(size, Math.abs(a[i] as number));
  }
  return diff / size;
}
