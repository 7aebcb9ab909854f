import { mkdirSync, mkdtempSync, readFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { benchCommand } from '../../../src/cli/bench/bench-command.ts';
import type { BenchReport } from '../../../src/cli/bench/bench-report.ts';
import type { Summary } from '../../../src/cli/bench/stats.ts';
import { createScheduler } from '../../../src/core/schedulers/registry.ts';
import { MODELS } from '../../fixtures.ts';

const SD15 = resolve(MODELS, 'tiny-sd15');
const quiet = (): void => {};

async function bench(args: string[]): Promise<{ text: string; report: BenchReport }> {
  let text = '';
  const report = await benchCommand(args, (t) => (text += t), quiet);
  return { text, report };
}

/** Every summary is a consistent order of non-negative finite numbers. */
function expectSane(s: Summary, n: number): void {
  expect(s.n).toBe(n);
  for (const v of [s.median, s.min, s.max, s.p90, s.mean, s.stddev]) {
    expect(Number.isFinite(v)).toBe(true);
    expect(v).toBeGreaterThanOrEqual(0);
  }
  expect(s.min).toBeLessThanOrEqual(s.median);
  expect(s.median).toBeLessThanOrEqual(s.p90);
  expect(s.p90).toBeLessThanOrEqual(s.max);
  expect(s.mean).toBeGreaterThanOrEqual(s.min);
  expect(s.mean).toBeLessThanOrEqual(s.max);
}

/** UNet calls the model's own scheduler makes for `steps` (PNDM adds one). */
function unetCalls(steps: number): number {
  const config = JSON.parse(readFileSync(resolve(SD15, 'scheduler/scheduler_config.json'), 'utf8')) as Record<
    string,
    unknown
  >;
  return createScheduler({ config, sampler: null, steps }).timesteps.length;
}

describe('npm run bench', () => {
  it('measures tiny-sd15 at 64x64, 2 steps, 1 run on cpu: JSON with every stage and sane numbers', async () => {
    const { text, report: r } = await bench([
      '--model',
      SD15,
      '--size',
      '64',
      '--steps',
      '2',
      '--runs',
      '1',
      '--backend',
      'cpu',
      '--bare-calls',
      '3',
    ]);
    // what is printed is the report, as JSON
    expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(r)));
    expect(r.mode).toBe('pipeline');
    expect(r.backend).toBe('cpu');
    expect(r.runtime).toMatch(/onnxruntime-node/);
    expect(r.adapter).toBeNull();
    expect(r.stubbed).toEqual([]);
    const calls = unetCalls(2);
    expect(r.config).toMatchObject({
      steps: 2,
      size: 64,
      cfgBatch: 2,
      cfgScale: 7,
      runs: 1,
      warmup: 1,
      unetStepsPerRun: calls,
      latentShape: [2, 4, 8, 8],
    });

    const s = r.stages;
    for (const name of [
      'readFilesMs',
      'sessionCreateMs',
      'warmupTotalMs',
      'textEncoderMs',
      'schedulerMs',
      'guidanceAndIoMs',
      'schedulerAndGuidanceMs',
      'vaeDecodeMs',
      'totalMs',
    ] as const)
      expectSane(s[name], 1);
    expectSane(s.unetStepMs, calls);
    expectSane(s.unetRunMs, calls);
    expect(s.sessionCreateMs.median).toBeGreaterThan(0);
    expect(s.unetRunMs.median).toBeGreaterThan(0);
    // run time is part of each step, so it is no larger at any order statistic
    expect(s.unetRunMs.max).toBeLessThanOrEqual(s.unetStepMs.max);
    expect(s.unetRunMs.median).toBeLessThanOrEqual(s.unetStepMs.median);
    // the stages fit inside the run (sums from means of rounded values: allow rounding)
    const parts = s.textEncoderMs.mean + s.unetStepMs.mean * calls + s.schedulerMs.mean + s.vaeDecodeMs.mean;
    expect(parts).toBeLessThanOrEqual(s.totalMs.mean + 0.1);
    expect(s.schedulerAndGuidanceMs.mean).toBeCloseTo(s.schedulerMs.mean + s.guidanceAndIoMs.mean, 1);

    for (const p of [r.overhead.schedulerAndGuidancePercent, r.overhead.outsideModelPercent]) {
      expectSane(p, 1);
      expect(p.max).toBeLessThan(100);
    }
    // CFG as one batch-2 call per step whose output is read once; on the CPU nothing crosses from a GPU
    expect(r.reads).toEqual({
      isDeviceResident: false,
      unetCallsPerStep: 1,
      unetOutputReadsPerStep: 1,
      gpuToCpuReadsPerStep: 0,
    });
    expect(r.bareUnet?.batch).toBe(2);
    expectSane(r.bareUnet!.callMs, 3);
    expect(Number.isFinite(r.bareUnet!.stepVsBarePercent)).toBe(true);
    expect(r.memory.peakRssMiB).toBeGreaterThan(10);
    expect(r.memory.gpuBuffersPeakMiB).toBeNull();
  });

  it('runs bare graphs (a folder with only unet and vae decoder) with a stand-in text encoder', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sd-bench-graphs-'));
    symlinkSync(resolve(SD15, 'unet'), join(dir, 'tiny-unet'));
    symlinkSync(resolve(SD15, 'vae_decoder'), join(dir, 'tiny-vae-decoder'));
    const { report: r } = await bench([
      '--model',
      dir,
      '--size',
      '64',
      '--steps',
      '1',
      '--runs',
      '1',
      '--warmup',
      '0',
      '--cfg-batch',
      '1',
      '--sampler',
      'Euler',
      '--bare-calls',
      '2',
    ]);
    expect(r.mode).toBe('graphs');
    expect(r.model).toBe(join(dir, 'tiny-unet'));
    expect(r.stubbed).toEqual(['text_encoder']);
    expect(r.config).toMatchObject({
      cfgBatch: 1,
      cfgScale: 1,
      sampler: 'Euler',
      unetStepsPerRun: 1,
      latentShape: [1, 4, 8, 8],
    });
    expect(r.reads.unetCallsPerStep).toBe(1);
    expect(r.bareUnet?.batch).toBe(1);
    expect(r.stages.vaeDecodeMs.median).toBeGreaterThan(0);
  });

  it('names a graph whose weights file is missing and how to write it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sd-bench-noweights-'));
    mkdirSync(join(dir, 'unet'));
    symlinkSync(resolve(SD15, 'unet/model.onnx'), join(dir, 'unet/model.onnx'));
    await expect(bench(['--unet', join(dir, 'unet'), '--size', '64', '--steps', '1', '--runs', '1'])).rejects.toThrow(
      /weights\.pb, which is missing.*make_weights\.py/,
    );
  });

  it.each([
    [['--model', SD15, '--cfg-batch', '3'], /--cfg-batch 3 is not allowed: use 2 .* or 1/],
    [['--model', SD15, '--size', '65'], /--size 65 is not allowed: use a multiple of 8/],
    [['--model', SD15, '--backend', 'cuda'], /--backend "cuda" is not allowed\. Expected one of: cpu, wasm, webgpu/],
    [['--steps', '2'], /Missing --model DIR or --unet DIR/],
    [['--model', SD15, '--vae', SD15], /--vae needs --unet/],
  ])('rejects %j', async (args, message) => {
    await expect(bench(args)).rejects.toThrow(message);
  });
});
