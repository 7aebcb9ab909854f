import { describe, expect, it } from 'vitest';
import { CompVisSchedule } from '../../../src/core/kdiffusion/compvis-schedule.ts';
import { createKSampler, K_SAMPLERS } from '../../../src/core/kdiffusion/k-samplers.ts';
import { linearMultistepCoeff } from '../../../src/core/kdiffusion/lms.ts';
import { planDeviceLoop } from '../../../src/core/pipeline/linearity.ts';
import { createRandomSource } from '../../../src/core/rng/seed.ts';
import type { Scheduler } from '../../../src/core/schedulers/scheduler.ts';

const SHAPE = [1, 4, 2, 2] as const;
const model = new CompVisSchedule();
const make = (sampler: string, steps: number): Scheduler =>
  createKSampler({ sampler, steps, predictionType: 'epsilon', isSdxl: false, model });

/**
 * Runs a sampler as the CPU loop does, on a synthetic model whose x0 is `x0(x, σ)`: its eps output is
 * (x - x0) / σ, so k-diffusion's `denoised` is x0. Returns the final latents and the σ of every call.
 */
function run(s: Scheduler, x0: (x: Float32Array, sigma: number) => Float32Array, seed = 1n) {
  const rng = createRandomSource('cpu', seed);
  let x: Float32Array = rng.randn(SHAPE).map((v) => v * s.initNoiseSigma);
  const sigmas: number[] = [];
  for (let i = 0; i < s.timesteps.length; i++) {
    const scale = s.scaleModelInput(i);
    const sigma = Math.sqrt(1 / scale ** 2 - 1);
    sigmas.push(sigma);
    const target = x0(x, sigma);
    const eps = x.map((v, k) => (v - target[k]!) / sigma);
    x = s.step({ modelOutput: eps, stepIndex: i, sample: x, shape: SHAPE, rng }).prevSample;
  }
  return { x, sigmas };
}

const POINT = Float32Array.from({ length: 16 }, (_, k) => Math.sin(k));
const names = K_SAMPLERS.map((s) => s.name);

describe('k-diffusion samplers on a synthetic denoiser', () => {
  it.each(names)('%s lands on the data point when the model always predicts it', (name) => {
    const { x } = run(make(name, 12), () => POINT);
    x.forEach((v, k) => expect(v).toBeCloseTo(POINT[k]!, 4));
  });

  it('model calls: one per step, second-order ones two but one on the last', () => {
    const calls = (name: string): number => make(name, 10).timesteps.length;
    expect(calls('Euler')).toBe(10);
    expect(calls('Euler a')).toBe(10);
    expect(calls('LMS')).toBe(10);
    expect(calls('DPM++ 2M')).toBe(10);
    expect(calls('Heun')).toBe(19);
    expect(calls('DPM2')).toBe(19);
    expect(calls('DPM2 a')).toBe(19);
    expect(calls('DPM++ 2S a')).toBe(19);
  });

  it('timesteps are the fractional sigma_to_t of each call', () => {
    const s = make('Euler', 20);
    expect(s.timesteps[0]).toBe(999);
    expect(Number.isInteger(s.timesteps[5])).toBe(false);
    expect(s.initNoiseSigma).toBeCloseTo(14.614643, 5);
  });

  it('Euler follows x + (x - x0) / σ · (σ_next - σ) step by step', () => {
    const s = make('Euler', 3);
    const x0 = (x: Float32Array): Float32Array => x.map((v) => 0.5 * v);
    const { x } = run(s, x0, 5n);
    // x0 = x/2 makes each step x · (1 + (σ_next - σ) / (2σ)); the start is noise · σ_0
    const sig = [...(s as unknown as { sigmas: Float64Array }).sigmas];
    let factor = sig[0]!;
    for (let i = 0; i < 3; i++) factor *= 1 + (sig[i + 1]! - sig[i]!) / (2 * sig[i]!);
    const noise = createRandomSource('cpu', 5n).randn(SHAPE);
    // σ is recovered from the float32 input scale here, which costs about 1e-4 relative
    x.forEach((v, k) => expect(Math.abs(v - noise[k]! * factor)).toBeLessThan(2e-4 * Math.abs(noise[k]! * factor)));
  });

  it('ancestral samplers draw fresh noise each step but the last, from the same generator', () => {
    let draws = 0;
    const s = make('Euler a', 6);
    const inner = createRandomSource('cpu', 3n);
    const rng = { randn: (shape: readonly number[]) => (draws++, inner.randn(shape)) };
    let x = rng.randn(SHAPE);
    for (let i = 0; i < s.timesteps.length; i++)
      x = s.step({ modelOutput: x, stepIndex: i, sample: x, shape: SHAPE, rng }).prevSample;
    expect(draws).toBe(1 + 5);
  });

  it('LMS coefficients integrate the Lagrange basis: they sum to σ_{i+1} - σ_i', () => {
    const t = [14.6, 9.1, 6.2, 4.4, 3.1, 2.0];
    expect(linearMultistepCoeff(1, t, 0, 0)).toBeCloseTo(t[1]! - t[0]!, 14);
    for (const order of [2, 3, 4]) {
      let sum = 0;
      for (let j = 0; j < order; j++) sum += linearMultistepCoeff(order, t, 4, j);
      expect(sum).toBeCloseTo(t[5]! - t[4]!, 13);
    }
    // order 2 at i = 1: ∫ (τ - t0) / (t1 - t0) dτ over [t1, t2]
    const exact = ((t[2]! - t[0]!) ** 2 - (t[1]! - t[0]!) ** 2) / (2 * (t[1]! - t[0]!));
    expect(linearMultistepCoeff(2, t, 1, 0)).toBeCloseTo(exact, 12);
  });

  it('v-prediction models go through CompVisVDenoiser: denoised = x / (σ² + 1) - σ / sqrt(σ² + 1) · v', () => {
    const s = createKSampler({ sampler: 'Euler', steps: 4, predictionType: 'v_prediction', isSdxl: false, model });
    const x = Float32Array.of(2);
    const v = Float32Array.of(0.5);
    const out = s.step({ modelOutput: v, stepIndex: 0, sample: x, shape: [1], rng: createRandomSource('cpu', 0n) });
    const sigma = s.initNoiseSigma;
    expect(out.denoised![0]).toBeCloseTo(2 / (sigma ** 2 + 1) - (sigma / Math.sqrt(sigma ** 2 + 1)) * 0.5, 6);
  });
});

describe('the device loop takes the k-diffusion samplers', () => {
  it.each(names)('%s is a linear plan over the start noise, model outputs and draws', (name) => {
    const planned = planDeviceLoop(
      {
        createScheduler: () => make(`${name} Karras`, 8),
        begin: 0,
        startCount: 1,
        halves: 2,
        guidanceScale: Math.fround(7),
        shape: SHAPE,
      },
      {},
      null,
    );
    expect(planned.reason).toBeUndefined();
    expect(planned.plan!.calls.length).toBe(make(`${name} Karras`, 8).timesteps.length);
  });
});
