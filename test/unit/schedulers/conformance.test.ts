import { describe, expect, it } from 'vitest';
import { TorchCpuGenerator } from '../../../src/core/rng/torch-cpu-generator.ts';
import { createScheduler, SAMPLER_NAMES } from '../../../src/core/schedulers/registry.ts';
import { cleanLatents, idealModel, meanAbsDiff, modelConfigs, runLoop, SHAPE } from './harness.ts';

const configs = modelConfigs();
const clean = cleanLatents();
const STEP_COUNTS = [1, 2, 5, 20];

/**
 * Samplers whose last step lands on the smallest training noise level rather than on sigma = 0 (diffusers'
 * DDIM/PNDM with set_alpha_to_one false, UniPC and DEIS ending at sigma_min): their result keeps noise of
 * about that level, and with very few steps they can start from a timestep near 0 (leading spacing).
 */
const ENDS_AT_SIGMA_MIN = new Set(['DDIM', 'PLMS', 'UniPC', 'DEIS']);

/** PNDM's Runge-Kutta warm-up needs 4 timesteps; diffusers fails (numpy broadcast error) with fewer. */
function rejectsStepCount(name: string, config: Record<string, unknown>, steps: number): boolean {
  return name === 'PLMS' && config['skip_prk_steps'] !== true && steps < 4;
}

/** Samplers that add fresh noise during sampling: two generators with different seeds must give different images. */
const STOCHASTIC = new Set([
  'Euler a',
  'DPM2 a',
  'DPM2 a Karras',
  'DPM++ 2M SDE',
  'DPM++ 2M SDE Karras',
  'DDPM',
  'LCM',
]);

/** Noise draws per loop for the samplers of this part (the others are covered by their own tests). */
function expectedDraws(name: string, timesteps: Float64Array, steps: number): number | undefined {
  switch (name) {
    case 'Euler a':
    case 'DPM2 a':
    case 'DPM2 a Karras':
      return timesteps.length; // drawn on every call, the last included
    case 'DDPM':
      return timesteps.filter((t) => t > 0).length;
    case 'LCM':
      return steps - 1; // none after the final call
    case 'Euler':
    case 'Heun':
    case 'LMS':
    case 'LMS Karras':
    case 'DPM2':
    case 'DPM2 Karras':
      return 0;
    default:
      return undefined;
  }
}

describe.each(SAMPLER_NAMES)('sampler %s', (name) => {
  describe.each(Object.keys(configs))('on %s', (model) => {
    const config = configs[model]!;
    const ideal = idealModel(config, clean);

    it.each(STEP_COUNTS)('runs a full loop with %i steps to the clean latents', (steps) => {
      if (rejectsStepCount(name, config, steps)) {
        expect(() => createScheduler({ config, sampler: name, steps })).toThrow(
          expect.objectContaining({ code: 'bad-argument' }),
        );
        return;
      }
      const scheduler = createScheduler({ config, sampler: name, steps });
      expect(scheduler.timesteps.length).toBeGreaterThanOrEqual(scheduler.order === 2 ? 2 * steps - 1 : steps);
      expect(Number.isFinite(scheduler.initNoiseSigma)).toBe(true);
      const result = runLoop(scheduler, ideal, new TorchCpuGenerator(1234));
      expect(result.calls).toBe(scheduler.timesteps.length);
      expect(result.latents.every(Number.isFinite)).toBe(true);
      if (!ENDS_AT_SIGMA_MIN.has(name)) expect(meanAbsDiff(result.latents, clean)).toBeLessThan(0.02);
      else if (steps >= 5) expect(meanAbsDiff(result.latents, clean)).toBeLessThan(0.05);
      const draws = expectedDraws(name, scheduler.timesteps, steps);
      if (draws !== undefined) expect(result.draws).toBe(draws);
    });

    it('is deterministic for a seed, and stochastic samplers depend on it', () => {
      const run = (seed: number) =>
        runLoop(
          createScheduler({ config, sampler: name, steps: 5 }),
          ideal,
          new TorchCpuGenerator(seed),
          0,
          new Float32Array(clean.length).fill(0.5),
        );
      const a = run(7);
      const b = run(7);
      expect(Array.from(a.latents)).toEqual(Array.from(b.latents));
      const c = run(8);
      if (STOCHASTIC.has(name)) expect(Array.from(c.latents)).not.toEqual(Array.from(a.latents));
      else expect(Array.from(c.latents)).toEqual(Array.from(a.latents));
    });
  });
});

describe('img2img start', () => {
  it.each(SAMPLER_NAMES)('%s denoises from addNoise at a later index', (name) => {
    const config = configs['tiny-sd15']!;
    const scheduler = createScheduler({ config, sampler: name, steps: 20 });
    const begin = Math.min(scheduler.timesteps.length - 1, 10 * scheduler.order);
    const noise = new TorchCpuGenerator(3).randn(SHAPE);
    const start = scheduler.addNoise(clean, noise, begin);
    expect(meanAbsDiff(start, clean)).toBeGreaterThan(0.01);
    const result = runLoop(scheduler, idealModel(config, clean), new TorchCpuGenerator(4), begin, start);
    expect(result.calls).toBe(scheduler.timesteps.length - begin);
    expect(meanAbsDiff(result.latents, clean)).toBeLessThan(ENDS_AT_SIGMA_MIN.has(name) ? 0.05 : 0.02);
  });
});
