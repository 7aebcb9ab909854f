import { describe, expect, it } from 'vitest';
import { TorchCpuGenerator } from '../../../src/core/rng/torch-cpu-generator.ts';
import { DDPMScheduler } from '../../../src/core/schedulers/ddpm.ts';
import { EulerAncestralDiscreteScheduler } from '../../../src/core/schedulers/euler-ancestral-discrete.ts';
import { EulerDiscreteScheduler } from '../../../src/core/schedulers/euler-discrete.ts';
import { HeunDiscreteScheduler } from '../../../src/core/schedulers/heun-discrete.ts';
import { KDPM2AncestralDiscreteScheduler } from '../../../src/core/schedulers/kdpm2-ancestral-discrete.ts';
import { KDPM2DiscreteScheduler } from '../../../src/core/schedulers/kdpm2-discrete.ts';
import { LCMScheduler } from '../../../src/core/schedulers/lcm.ts';
import { LMSDiscreteScheduler } from '../../../src/core/schedulers/lms-discrete.ts';
import { readReferenceJson } from '../../fixtures.ts';
import { LATENT_SIZE, modelConfigs, SHAPE } from './harness.ts';

const configs = modelConfigs();
const sd15 = configs['tiny-sd15']!;
const n = LATENT_SIZE;
const rng = new TorchCpuGenerator(0);

function expectRelClose(actual: number, expected: number, rel = 1e-6): void {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(rel * Math.max(Math.abs(expected), 1e-12));
}

describe('timestep spacing', () => {
  it('keeps numpy arange quirks of trailing spacing (61 steps give 62 timesteps, the last -1)', () => {
    const s = new EulerDiscreteScheduler({ ...sd15, timestep_spacing: 'trailing' }, 61);
    expect(s.timesteps.length).toBe(62);
    expect(s.timesteps[0]).toBe(999);
    expect(s.timesteps[61]).toBe(-1);
    expect(s.sigmas.length).toBe(63);
  });

  it('gives integer DDPM timesteps matching the distinct PNDM reference timesteps for leading spacing', () => {
    const pndm = readReferenceJson<{ timesteps: number[] }>('cases/sd15-default-pndm-20.json');
    const ddpm = new DDPMScheduler(sd15, 20);
    expect(Array.from(ddpm.timesteps)).toEqual([...new Set(pndm.timesteps)]);
  });

  it('gives LCM the distillation-schedule timesteps', () => {
    expect(Array.from(new LCMScheduler(sd15, 4).timesteps)).toEqual([999, 759, 499, 259]);
    expect(Array.from(new LCMScheduler(sd15, 1).timesteps)).toEqual([999]);
    expect(() => new LCMScheduler(sd15, 51)).toThrow(expect.objectContaining({ code: 'bad-argument' }));
  });
});

describe('second-order schedules', () => {
  const euler = new EulerDiscreteScheduler(sd15, 10);

  it('Heun visits every timestep after the first twice, with matching sigmas', () => {
    const heun = new HeunDiscreteScheduler(sd15, 10);
    expect(heun.timesteps.length).toBe(19);
    for (let k = 1; k < 10; k++) {
      expect(heun.timesteps[2 * k - 1]).toBe(euler.timesteps[k]);
      expect(heun.timesteps[2 * k]).toBe(euler.timesteps[k]);
      expect(heun.sigmas[2 * k]).toBe(euler.sigmas[k]);
    }
    expect(heun.sigmas[19]).toBe(0);
  });

  it('DPM2 puts a midpoint call between consecutive timesteps, at the geometric mean sigma', () => {
    const dpm2 = new KDPM2DiscreteScheduler(sd15, 10);
    expect(dpm2.timesteps.length).toBe(19);
    for (let k = 1; k < 10; k++) {
      expect(dpm2.timesteps[2 * k]).toBe(euler.timesteps[k]);
      const mid = dpm2.timesteps[2 * k - 1]!;
      expect(mid).toBeLessThan(euler.timesteps[k - 1]!);
      expect(mid).toBeGreaterThan(euler.timesteps[k]!);
      expectRelClose(dpm2.sigmasInterpol[2 * k - 1]!, Math.sqrt(euler.sigmas[k]! * euler.sigmas[k - 1]!));
    }
  });

  it('DPM2 a puts its midpoint between sigma and sigma_down', () => {
    const dpm2a = new KDPM2AncestralDiscreteScheduler(sd15, 10);
    expect(dpm2a.timesteps.length).toBe(19);
    for (let k = 0; k < 9; k++) {
      const [s, next] = [euler.sigmas[k]!, euler.sigmas[k + 1]!];
      const up = Math.sqrt((next ** 2 * (s ** 2 - next ** 2)) / s ** 2);
      const down = Math.sqrt(next ** 2 - up ** 2);
      expectRelClose(dpm2a.sigmasUp[2 * k]!, up, 1e-5);
      expectRelClose(dpm2a.sigmasDown[2 * k]!, down, 1e-5);
      expectRelClose(dpm2a.sigmasInterpol[2 * k]!, Math.sqrt(s * down), 1e-5);
      expect(dpm2a.timesteps[2 * k + 2]).toBe(euler.timesteps[k + 1]);
    }
  });

  it('rounds Karras timesteps for DPM2 but not for Heun', () => {
    const dpm2 = new KDPM2DiscreteScheduler({ ...sd15, use_karras_sigmas: true }, 8);
    const heun = new HeunDiscreteScheduler({ ...sd15, use_karras_sigmas: true }, 8);
    for (let k = 0; k < 8; k++) expect(Number.isInteger(dpm2.timesteps[2 * k])).toBe(true);
    expect(Array.from(heun.timesteps).some((t) => !Number.isInteger(t))).toBe(true);
  });
});

describe('LMS coefficients', () => {
  it('integrate constant and linear derivatives exactly', () => {
    const lms = new LMSDiscreteScheduler(sd15, 12);
    let sample: Float32Array = new Float32Array(n).fill(3);
    for (let i = 0; i < 12; i++) {
      const [s, next] = [lms.sigmas[i]!, lms.sigmas[i + 1]!];
      // epsilon = sigma makes the derivative d(sigma) = sigma, whose integral is (next^2 - s^2) / 2;
      // exact from the second step on, when the interpolating polynomial has degree >= 1.
      const out = lms.step({ modelOutput: new Float32Array(n).fill(s), stepIndex: i, sample, shape: SHAPE, rng });
      const expected = i === 0 ? s * (next - s) : (next ** 2 - s ** 2) / 2;
      expect(Math.abs(out.prevSample[0]! - sample[0]! - expected)).toBeLessThan(1e-4 * Math.max(1, Math.abs(expected)));
      sample = out.prevSample;
    }
  });
});

describe('sigma schedulers', () => {
  it('scale the model input by 1 / sqrt(sigma^2 + 1) and noise img2img latents by sigma', () => {
    const euler = new EulerDiscreteScheduler(sd15, 20);
    const zeros = new Float32Array(n);
    const ones = new Float32Array(n).fill(1);
    for (const i of [0, 7, 19]) {
      expectRelClose(euler.scaleModelInput(i), 1 / Math.sqrt(euler.sigmas[i]! ** 2 + 1));
      expectRelClose(euler.addNoise(zeros, ones, i)[0]!, euler.sigmas[i]!);
    }
  });

  it('use sqrt(sigma_max^2 + 1) as the initial noise scale for leading spacing', () => {
    const euler = new EulerDiscreteScheduler(configs['tiny-sdxl']!, 20);
    expectRelClose(euler.initNoiseSigma, Math.sqrt(Math.max(...euler.sigmas) ** 2 + 1));
  });

  it('give EDM-style v-prediction models 0.25 log(sigma) as timesteps', () => {
    const euler = new EulerDiscreteScheduler(
      { ...sd15, prediction_type: 'v_prediction', timestep_type: 'continuous' },
      10,
    );
    for (let i = 0; i < 10; i++) expectRelClose(euler.timesteps[i]!, 0.25 * Math.log(euler.sigmas[i]!), 1e-6);
  });

  it('keep the first sigma finite under zero terminal SNR', () => {
    const euler = new EulerDiscreteScheduler(
      { ...sd15, rescale_betas_zero_snr: true, timestep_spacing: 'trailing' },
      10,
    );
    expectRelClose(euler.sigmas[0]!, Math.sqrt((1 - 2 ** -24) / 2 ** -24), 1e-6);
    expect(Number.isFinite(euler.initNoiseSigma)).toBe(true);
  });

  it('end ancestral Euler on the denoised latents (no noise at sigma 0)', () => {
    const ea = new EulerAncestralDiscreteScheduler(sd15, 5);
    const sample = new Float32Array(n).fill(0.3);
    const out = ea.step({ modelOutput: new Float32Array(n).fill(0.1), stepIndex: 4, sample, shape: SHAPE, rng });
    expect(Array.from(out.prevSample)).toEqual(Array.from(out.denoised!));
  });

  it('reject a step index outside the schedule', () => {
    const euler = new EulerDiscreteScheduler(sd15, 4);
    expect(() => euler.scaleModelInput(5)).toThrow(expect.objectContaining({ code: 'internal' }));
  });
});

describe('Karras sigmas with trailing spacing', () => {
  // trailing spacing gives steps + 1 timesteps at some step counts (61 of 1000); diffusers still
  // makes exactly num_inference_steps Karras sigmas, and the timesteps follow them
  it('makes steps Karras sigmas, not one per spaced timestep', () => {
    const turbo = modelConfigs()['tiny-sd-turbo']!;
    const lms = new LMSDiscreteScheduler(turbo, 61, { use_karras_sigmas: true });
    expect(lms.timesteps.length).toBe(61);
    expect(lms.sigmas.length).toBe(62);
    expect(lms.sigmas[61]).toBe(0);
    const plain = new LMSDiscreteScheduler(turbo, 61);
    expect(plain.timesteps.length).toBe(62);
  });
});
