import { describe, expect, it } from 'vitest';
import { TorchCpuGenerator } from '../../../src/core/rng/torch-cpu-generator.ts';
import { DDIMScheduler } from '../../../src/core/schedulers/ddim.ts';
import { PNDMScheduler } from '../../../src/core/schedulers/pndm.ts';
import type { RawSchedulerConfig, Scheduler } from '../../../src/core/schedulers/scheduler.ts';
import {
  numpyArange,
  roundHalfEven,
  solverTimesteps,
  spacedTimesteps,
} from '../../../src/core/schedulers/timestep-spacing.ts';
import { readReferenceJson } from '../../fixtures.ts';
import { dummyLoop, TEST_BETAS } from './diffusers-loops.ts';
import { cleanLatents, idealModel, meanAbsDiff, modelConfigs, runLoop, SHAPE } from './harness.ts';

type Ctor = new (config: RawSchedulerConfig, steps: number, overrides?: Record<string, unknown>) => Scheduler;
const configs = modelConfigs();
const clean = cleanLatents();

describe('numpy semantics of the timestep spacing', () => {
  it('rounds halves to even like np.round', () => {
    expect([0.5, 1.5, 2.5, 937.5, 812.5, -1.5, 3.2, -3.7].map(roundHalfEven)).toEqual([0, 2, 2, 938, 812, -2, 3, -4]);
  });

  it('sizes float aranges like np.arange: ceil((stop - start) / step)', () => {
    expect(numpyArange(1000, 0, -1000 / 3)).toHaveLength(3);
    // 1000 / (1000 / 61) is 61.00000000000001 in float64, so numpy gives 62 elements.
    const a = numpyArange(1000, 0, -1000 / 61);
    expect(a).toHaveLength(62);
    expect(Math.abs(a[61] as number)).toBeLessThan(1e-9); // rounds to timestep 0, i.e. -1 after the shift
  });

  it('spaces DDIM/PNDM timesteps (descending)', () => {
    expect(Array.from(spacedTimesteps('leading', 1000, 5, 1))).toEqual([801, 601, 401, 201, 1]);
    expect(Array.from(spacedTimesteps('linspace', 1000, 4, 0))).toEqual([999, 666, 333, 0]);
    const trailing = spacedTimesteps('trailing', 1000, 16, 0);
    expect(trailing[0]).toBe(999);
    expect(trailing[1]).toBe(937); // np.round(937.5) = 938
    expect(trailing[3]).toBe(811); // np.round(812.5) = 812
    expect(trailing[15]).toBe(61); // np.round(62.5) = 62
  });

  it('spaces solver timesteps over steps + 1 points and drops t = 0', () => {
    expect(Array.from(solverTimesteps('linspace', 1000, 4, 0))).toEqual([999, 749, 500, 250]);
    expect(Array.from(solverTimesteps('leading', 1000, 4, 1))).toEqual([801, 601, 401, 201]);
    expect(Array.from(solverTimesteps('trailing', 1000, 4, 0))).toEqual([999, 749, 499, 249]);
  });
});

describe('PNDM timesteps', () => {
  it('matches diffusers for the SD 1.5 default config: PLMS repeats the second timestep', () => {
    const ref = readReferenceJson<{ timesteps: number[]; steps: number }>('cases/sd15-default-pndm-20.json');
    const scheduler = new PNDMScheduler(configs['tiny-sd15']!, ref.steps);
    expect(Array.from(scheduler.timesteps)).toEqual(ref.timesteps);
  });

  it('puts 12 Runge-Kutta calls first without skip_prk_steps (diffusers test_steps_offset)', () => {
    const scheduler = new PNDMScheduler({ ...TEST_BETAS, steps_offset: 1 }, 10);
    expect(Array.from(scheduler.timesteps)).toEqual([
      901, 851, 851, 801, 801, 751, 751, 701, 701, 651, 651, 601, 601, 501, 401, 301, 201, 101, 1,
    ]);
  });

  it('handles one and two PLMS steps', () => {
    expect(Array.from(new PNDMScheduler(configs['tiny-sd15']!, 1).timesteps)).toEqual([1]);
    expect(Array.from(new PNDMScheduler(configs['tiny-sd15']!, 2).timesteps)).toEqual([501, 1, 1]);
  });

  it('rejects fewer than 4 steps for the Runge-Kutta warm-up and sample prediction', () => {
    expect(() => new PNDMScheduler(TEST_BETAS, 3)).toThrow(expect.objectContaining({ code: 'bad-argument' }));
    expect(() => new PNDMScheduler({ ...TEST_BETAS, prediction_type: 'sample' }, 10)).toThrow(
      expect.objectContaining({ code: 'unsupported-model' }),
    );
  });
});

describe('DDIM', () => {
  it('uses leading spacing with the model steps_offset and steps back by N // steps', () => {
    const scheduler = new DDIMScheduler(configs['tiny-sd2-v']!, 20);
    expect(scheduler.timesteps[0]).toBe(951);
    expect(scheduler.timesteps[19]).toBe(1);
  });

  it('draws eta noise once per step, seeded', () => {
    const config = configs['tiny-sd15']!;
    const run = (seed: number) =>
      runLoop(new DDIMScheduler(config, 10, { eta: 1 }), idealModel(config, clean), new TorchCpuGenerator(seed));
    const a = run(3);
    expect(a.draws).toBe(10);
    expect(Array.from(run(3).latents)).toEqual(Array.from(a.latents));
    expect(Array.from(run(4).latents)).not.toEqual(Array.from(a.latents));
    expect(() => new DDIMScheduler(config, 10, { eta: -1 })).toThrow(expect.objectContaining({ code: 'bad-argument' }));
  });
});

const VARIANTS: { name: string; ctor: Ctor; overrides: Record<string, unknown> }[] = [
  { name: 'DDIM', ctor: DDIMScheduler, overrides: {} },
  { name: 'DDIM trailing', ctor: DDIMScheduler, overrides: { timestep_spacing: 'trailing' } },
  { name: 'PNDM (PLMS)', ctor: PNDMScheduler, overrides: { skip_prk_steps: true } },
  { name: 'PNDM (config)', ctor: PNDMScheduler, overrides: {} },
];

describe.each(VARIANTS)('$name', ({ ctor, overrides }) => {
  describe.each(Object.keys(configs))('on %s', (model) => {
    const config = configs[model]!;
    it.each([1, 2, 5, 20, 50])('denoises to the clean latents in %i steps', (steps) => {
      const prk = ctor === PNDMScheduler && config['skip_prk_steps'] !== true && overrides['skip_prk_steps'] !== true;
      if (prk && steps < 4) {
        expect(() => new ctor(config, steps, overrides)).toThrow(expect.objectContaining({ code: 'bad-argument' }));
        return;
      }
      const scheduler = new ctor(config, steps, overrides);
      const result = runLoop(scheduler, idealModel(config, clean), new TorchCpuGenerator(9));
      expect(result.latents.every(Number.isFinite)).toBe(true);
      expect(result.draws).toBe(0);
      // set_alpha_to_one is false in these configs: the result keeps noise of the smallest training level.
      if (steps >= 5) expect(meanAbsDiff(result.latents, clean)).toBeLessThan(0.05);
    });
  });

  it('denoises img2img from addNoise at a later step', () => {
    const config = configs['tiny-sd15']!;
    const scheduler = new ctor(config, 20, overrides);
    const start = scheduler.addNoise(clean, new TorchCpuGenerator(3).randn(SHAPE), 10);
    expect(meanAbsDiff(start, clean)).toBeGreaterThan(0.05);
    const result = runLoop(scheduler, idealModel(config, clean), new TorchCpuGenerator(4), 10, start);
    expect(meanAbsDiff(result.latents, clean)).toBeLessThan(0.05);
  });
});

/** Values asserted by diffusers' tests/schedulers/test_scheduler_{ddim,pndm}.py (10 steps, linear betas). */
describe("diffusers' own full-loop tests", () => {
  const ddim = { ...TEST_BETAS, clip_sample: true };
  it.each([
    ['ddim', () => new DDIMScheduler(ddim, 10), 172.0067, 0.223967],
    ['ddim v', () => new DDIMScheduler({ ...ddim, prediction_type: 'v_prediction' }, 10), 52.5302, 0.0684],
    [
      'ddim set_alpha_to_one',
      () => new DDIMScheduler({ ...ddim, set_alpha_to_one: true, beta_start: 0.01 }, 10),
      149.8295,
      0.1951,
    ],
    [
      'ddim no set_alpha_to_one',
      () => new DDIMScheduler({ ...ddim, set_alpha_to_one: false, beta_start: 0.01 }, 10),
      149.0784,
      0.1941,
    ],
    ['ddim with noise', () => new DDIMScheduler(ddim, 10), 354.5418, 0.4616, 8],
    ['pndm', () => new PNDMScheduler(TEST_BETAS, 10), 198.1318, 0.258],
    ['pndm v', () => new PNDMScheduler({ ...TEST_BETAS, prediction_type: 'v_prediction' }, 10), 67.3986, 0.0878],
    [
      'pndm set_alpha_to_one',
      () => new PNDMScheduler({ ...TEST_BETAS, set_alpha_to_one: true, beta_start: 0.01 }, 10),
      230.0399,
      0.2995,
    ],
    [
      'pndm no set_alpha_to_one',
      () => new PNDMScheduler({ ...TEST_BETAS, set_alpha_to_one: false, beta_start: 0.01 }, 10),
      186.9482,
      0.2434,
    ],
  ] as [string, () => Scheduler, number, number, number?][])('%s', (_, make, sum, mean, noiseAt) => {
    const [s, m] = dummyLoop(make(), noiseAt ?? 0, noiseAt);
    expect(Math.abs(m - mean)).toBeLessThan(1e-3);
    expect(Math.abs(s - sum)).toBeLessThan(1e-2);
  });
});
