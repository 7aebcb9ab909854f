import { describe, expect, it } from 'vitest';
import { TorchCpuGenerator } from '../../../src/core/rng/torch-cpu-generator.ts';
import { DEISMultistepScheduler } from '../../../src/core/schedulers/deis-multistep.ts';
import { DPMSolverMultistepScheduler } from '../../../src/core/schedulers/dpm-solver-multistep.ts';
import { DPMSolverSinglestepScheduler, singlestepOrders } from '../../../src/core/schedulers/dpm-solver-singlestep.ts';
import type { RawSchedulerConfig, Scheduler } from '../../../src/core/schedulers/scheduler.ts';
import { UniPCMultistepScheduler } from '../../../src/core/schedulers/unipc-multistep.ts';
import { readReferenceJson } from '../../fixtures.ts';
import { dummyLoop, TEST_BETAS } from './diffusers-loops.ts';
import { cleanLatents, idealModel, meanAbsDiff, modelConfigs, runLoop, SHAPE } from './harness.ts';

type Ctor = new (config: RawSchedulerConfig, steps: number, overrides?: Record<string, unknown>) => Scheduler;
const configs = modelConfigs();
const clean = cleanLatents();

interface Variant {
  name: string;
  ctor: Ctor;
  overrides: Record<string, unknown>;
  /** Ends at sigma_min instead of 0, so some noise of that level stays. */
  endsAtSigmaMin?: boolean;
  /**
   * SDE-DPM-Solver (noise form): even with the exact noise its step multiplies the noise variance by
   * 3 - 4 e^h + 2 e^{2h} > 1, so it does not settle on the clean latents; only finiteness is checked.
   */
  inflatesNoise?: boolean;
  stochastic?: boolean;
}

const VARIANTS: Variant[] = [
  { name: 'DPM++ 2M', ctor: DPMSolverMultistepScheduler, overrides: {} },
  { name: 'DPM++ 2M Karras', ctor: DPMSolverMultistepScheduler, overrides: { use_karras_sigmas: true } },
  { name: 'DPM++ 2M Lu', ctor: DPMSolverMultistepScheduler, overrides: { use_lu_lambdas: true } },
  { name: 'DPM++ 3M heun', ctor: DPMSolverMultistepScheduler, overrides: { solver_order: 3, solver_type: 'heun' } },
  {
    name: 'DPM++ 2M SDE',
    ctor: DPMSolverMultistepScheduler,
    overrides: { algorithm_type: 'sde-dpmsolver++' },
    stochastic: true,
  },
  {
    name: 'DPM++ 2M SDE Karras heun',
    ctor: DPMSolverMultistepScheduler,
    overrides: { algorithm_type: 'sde-dpmsolver++', use_karras_sigmas: true, solver_type: 'heun' },
    stochastic: true,
  },
  {
    name: 'DPM-Solver 3M',
    ctor: DPMSolverMultistepScheduler,
    overrides: { algorithm_type: 'dpmsolver', final_sigmas_type: 'sigma_min', solver_order: 3 },
    endsAtSigmaMin: true,
  },
  {
    name: 'SDE-DPM-Solver',
    ctor: DPMSolverMultistepScheduler,
    overrides: { algorithm_type: 'sde-dpmsolver', final_sigmas_type: 'sigma_min' },
    endsAtSigmaMin: true,
    stochastic: true,
    inflatesNoise: true,
  },
  { name: 'DPM++ SDE (singlestep)', ctor: DPMSolverSinglestepScheduler, overrides: {} },
  { name: 'DPM++ SDE Karras (singlestep)', ctor: DPMSolverSinglestepScheduler, overrides: { use_karras_sigmas: true } },
  {
    name: 'singlestep order 3 heun',
    ctor: DPMSolverSinglestepScheduler,
    // With final sigma 0, order 3 ends on a second-order step into sigma = 0 for steps % 3 == 2, which is
    // not finite in diffusers either.
    overrides: { solver_order: 3, solver_type: 'heun', final_sigmas_type: 'sigma_min' },
    endsAtSigmaMin: true,
  },
  { name: 'UniPC', ctor: UniPCMultistepScheduler, overrides: {}, endsAtSigmaMin: true },
  {
    name: 'UniPC bh1 order 3',
    ctor: UniPCMultistepScheduler,
    overrides: { solver_type: 'bh1', solver_order: 3 },
    endsAtSigmaMin: true,
  },
  {
    name: 'UniPC noise form',
    ctor: UniPCMultistepScheduler,
    overrides: { predict_x0: false, disable_corrector: [0] },
    endsAtSigmaMin: true,
  },
  { name: 'UniPC Karras', ctor: UniPCMultistepScheduler, overrides: { use_karras_sigmas: true }, endsAtSigmaMin: true },
  { name: 'DEIS', ctor: DEISMultistepScheduler, overrides: {}, endsAtSigmaMin: true },
  { name: 'DEIS order 3', ctor: DEISMultistepScheduler, overrides: { solver_order: 3 }, endsAtSigmaMin: true },
];

describe.each(VARIANTS)('$name', ({ ctor, overrides, endsAtSigmaMin, stochastic, inflatesNoise }) => {
  describe.each(Object.keys(configs))('on %s', (model) => {
    const config = configs[model]!;
    const ideal = idealModel(config, clean);

    it.each([1, 2, 5, 20, 50])('denoises to the clean latents in %i steps', (steps) => {
      const scheduler = new ctor(config, steps, overrides);
      expect(scheduler.timesteps.length).toBe(steps);
      const result = runLoop(scheduler, ideal, new TorchCpuGenerator(42));
      expect(result.latents.every(Number.isFinite)).toBe(true);
      // The SDE variants draw one noise tensor per step (the last included), the others none.
      expect(result.draws).toBe(stochastic ? steps : 0);
      if (inflatesNoise) return;
      if (!endsAtSigmaMin) expect(meanAbsDiff(result.latents, clean)).toBeLessThan(0.02);
      else if (steps >= 5) expect(meanAbsDiff(result.latents, clean)).toBeLessThan(0.05);
    });
  });

  it('is deterministic for a seeded generator', () => {
    const run = (seed: number) =>
      runLoop(
        new ctor(configs['tiny-sdxl']!, 8, overrides),
        idealModel(configs['tiny-sdxl']!, clean),
        new TorchCpuGenerator(seed),
      );
    expect(Array.from(run(5).latents)).toEqual(Array.from(run(5).latents));
    const start = new Float32Array(clean.length).fill(0.3);
    const fixed = (seed: number) =>
      runLoop(
        new ctor(configs['tiny-sd15']!, 8, overrides),
        idealModel(configs['tiny-sd15']!, clean),
        new TorchCpuGenerator(seed),
        0,
        start,
      );
    expect(Array.from(fixed(1).latents).join() === Array.from(fixed(2).latents).join()).toBe(!stochastic);
  });

  it('denoises img2img from addNoise at a later step', () => {
    const config = configs['tiny-sd15']!;
    const scheduler = new ctor(config, 20, overrides);
    const start = scheduler.addNoise(clean, new TorchCpuGenerator(3).randn(SHAPE), 8);
    expect(meanAbsDiff(start, clean)).toBeGreaterThan(0.05);
    const result = runLoop(scheduler, idealModel(config, clean), new TorchCpuGenerator(4), 8, start);
    expect(result.calls).toBe(12);
    expect(result.latents.every(Number.isFinite)).toBe(true);
    if (!inflatesNoise) expect(meanAbsDiff(result.latents, clean)).toBeLessThan(endsAtSigmaMin ? 0.05 : 0.02);
  });
});

describe('reference schedules (diffusers 0.27.2 on the fixture models)', () => {
  const expectSchedule = (scheduler: { timesteps: Float64Array; sigmas: Float64Array }, file: string) => {
    const ref = readReferenceJson<{ timesteps: number[]; sigmas: number[] }>(`cases/${file}`);
    expect(Array.from(scheduler.timesteps)).toEqual(ref.timesteps);
    expect(scheduler.sigmas).toHaveLength(ref.sigmas.length);
    // Exact up to the float32 training sigmas (betas.ts emulates torch.linspace to about 1e-7).
    ref.sigmas.forEach((s, i) => expect(Math.abs((scheduler.sigmas[i] as number) - s)).toBeLessThanOrEqual(1e-7 * s));
    expect(scheduler.sigmas[ref.sigmas.length - 1]).toBe(0);
  };

  it('DPM++ 2M Karras, 20 steps, tiny-sd15 config', () => {
    expectSchedule(
      new DPMSolverMultistepScheduler(configs['tiny-sd15']!, 20, { use_karras_sigmas: true }),
      'sd15-dpmpp2mk-20-neg-64x128.json',
    );
  });

  it('DPM++ SDE Karras (singlestep), 6 steps, tiny-sdxl config', () => {
    const scheduler = new DPMSolverSinglestepScheduler(configs['tiny-sdxl']!, 6, { use_karras_sigmas: true });
    expectSchedule(scheduler, 'sdxl-dpmppsdek-6-g2.json');
    // final_sigmas_type "zero" forces lower_order_final: runs of [1, 2], ending on two first-order steps.
    expect(scheduler.orders).toEqual([1, 2, 1, 2, 1, 1]);
  });
});

describe('singlestep order lists (get_order_list)', () => {
  it.each([
    [6, 2, true, [1, 2, 1, 2, 1, 1]],
    [5, 2, true, [1, 2, 1, 2, 1]],
    [6, 2, false, [1, 2, 1, 2, 1, 2]],
    [6, 3, true, [1, 2, 3, 1, 2, 1]],
    [7, 3, true, [1, 2, 3, 1, 2, 3, 1]],
    [8, 3, true, [1, 2, 3, 1, 2, 3, 1, 2]],
    [3, 1, true, [1, 1, 1]],
  ])('%i steps, order %i, lower_order_final %s', (steps, order, lowerFinal, expected) => {
    expect(singlestepOrders(steps, order, lowerFinal)).toEqual(expected);
  });
});

/** Values asserted by diffusers' tests/schedulers/test_scheduler_{dpm_multi,dpm_single,unipc,deis}.py. */
describe("diffusers' own full-loop tests", () => {
  const multi = { ...TEST_BETAS, lower_order_final: false, final_sigmas_type: 'sigma_min' };
  const single = { ...TEST_BETAS, final_sigmas_type: 'sigma_min' };
  const cases: [string, () => Scheduler, number, number?, number?, number?][] = [
    // name, scheduler, expected mean, expected sum, from index, add_noise index
    ['multistep', () => new DPMSolverMultistepScheduler(multi, 10), 0.3301],
    ['multistep with noise', () => new DPMSolverMultistepScheduler(multi, 10), 0.4146, 318.4111, 5, 5],
    ['multistep v', () => new DPMSolverMultistepScheduler({ ...multi, prediction_type: 'v_prediction' }, 10), 0.2251],
    [
      'multistep karras v',
      () => new DPMSolverMultistepScheduler({ ...multi, prediction_type: 'v_prediction', use_karras_sigmas: true }, 10),
      0.2096,
    ],
    [
      'multistep lu v',
      () => new DPMSolverMultistepScheduler({ ...multi, prediction_type: 'v_prediction', use_lu_lambdas: true }, 10),
      0.1554,
    ],
    [
      'multistep thresholding',
      () =>
        new DPMSolverMultistepScheduler(
          { ...multi, thresholding: true, dynamic_thresholding_ratio: 0.87, sample_max_value: 0.5 },
          10,
        ),
      1.1364,
    ],
    ['singlestep', () => new DPMSolverSinglestepScheduler(single, 10), 0.2791],
    ['singlestep karras', () => new DPMSolverSinglestepScheduler({ ...single, use_karras_sigmas: true }, 10), 0.2248],
    [
      'singlestep v',
      () => new DPMSolverSinglestepScheduler({ ...single, prediction_type: 'v_prediction' }, 10),
      0.1453,
    ],
    [
      'singlestep karras v',
      () =>
        new DPMSolverSinglestepScheduler({ ...single, prediction_type: 'v_prediction', use_karras_sigmas: true }, 10),
      0.0649,
    ],
    ['singlestep with noise', () => new DPMSolverSinglestepScheduler(single, 10), 0.3505, 269.2187, 5, 5],
    ['singlestep uneven start', () => new DPMSolverSinglestepScheduler(single, 50), 0.2574, undefined, 3],
    ['unipc', () => new UniPCMultistepScheduler(TEST_BETAS, 10), 0.2464],
    ['unipc karras', () => new UniPCMultistepScheduler({ ...TEST_BETAS, use_karras_sigmas: true }, 10), 0.2925],
    ['unipc v', () => new UniPCMultistepScheduler({ ...TEST_BETAS, prediction_type: 'v_prediction' }, 10), 0.1014],
    [
      'unipc karras v',
      () =>
        new UniPCMultistepScheduler({ ...TEST_BETAS, prediction_type: 'v_prediction', use_karras_sigmas: true }, 10),
      0.1966,
    ],
    ['unipc with noise', () => new UniPCMultistepScheduler(TEST_BETAS, 10), 0.4109, 315.5757, 8, 8],
    ['deis', () => new DEISMultistepScheduler(TEST_BETAS, 10), 0.23916],
    ['deis v', () => new DEISMultistepScheduler({ ...TEST_BETAS, prediction_type: 'v_prediction' }, 10), 0.091],
    ['deis with noise', () => new DEISMultistepScheduler(TEST_BETAS, 10), 0.41054, 315.3016, 8, 8],
  ];
  it.each(cases)('%s', (_, make, mean, sum, from, noiseAt) => {
    const [s, m] = dummyLoop(make(), from ?? 0, noiseAt);
    expect(Math.abs(m - mean)).toBeLessThan(1e-3);
    if (sum !== undefined) expect(Math.abs(s - sum)).toBeLessThan(1e-2);
  });
});

describe('configuration errors', () => {
  it.each([
    [DPMSolverMultistepScheduler, { algorithm_type: 'dpmsolver' }],
    [DPMSolverMultistepScheduler, { algorithm_type: 'sde-dpmsolver++', solver_order: 3 }],
    [DPMSolverMultistepScheduler, { final_sigmas_type: 'last' }],
    [DPMSolverMultistepScheduler, { timestep_spacing: 'cosine' }],
    [DPMSolverSinglestepScheduler, { algorithm_type: 'sde-dpmsolver++' }],
    [UniPCMultistepScheduler, { solver_type: 'euler' }],
    [DEISMultistepScheduler, { prediction_type: 'flow' }],
  ] as [Ctor, Record<string, unknown>][])('%o rejects %o', (ctor, overrides) => {
    expect(() => new ctor(configs['tiny-sd15']!, 10, overrides)).toThrow(expect.objectContaining({ name: 'SdError' }));
  });

  it('maps sibling names onto its own, as from_config does', () => {
    const a = new DPMSolverMultistepScheduler(configs['tiny-sd15']!, 10, {
      algorithm_type: 'deis',
      solver_type: 'bh2',
    });
    const b = new DPMSolverMultistepScheduler(configs['tiny-sd15']!, 10);
    expect(Array.from(runLoop(a, idealModel(configs['tiny-sd15']!, clean), new TorchCpuGenerator(1)).latents)).toEqual(
      Array.from(runLoop(b, idealModel(configs['tiny-sd15']!, clean), new TorchCpuGenerator(1)).latents),
    );
  });
});
