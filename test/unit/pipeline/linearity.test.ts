import { describe, expect, it } from 'vitest';
import { planLinearLoop, type LoopSpec } from '../../../src/core/pipeline/linear-plan.ts';
import { nonlinearOption, planDeviceLoop, probeLinearity } from '../../../src/core/pipeline/linearity.ts';
import { createScheduler } from '../../../src/core/schedulers/registry.ts';
import type { RawSchedulerConfig, Scheduler, StepInput, StepOutput } from '../../../src/core/schedulers/scheduler.ts';
import { modelConfigs, SHAPE } from '../schedulers/harness.ts';

const configs = modelConfigs();
const sd15 = configs['tiny-sd15']!;
const turbo = configs['tiny-sd-turbo']!;

function spec(config: RawSchedulerConfig, sampler: string | null, steps: number, make?: () => Scheduler): LoopSpec {
  return {
    createScheduler: make ?? (() => createScheduler({ config, sampler, steps })),
    begin: 0,
    startCount: 1,
    halves: 2,
    guidanceScale: Math.fround(7.5),
    shape: SHAPE,
  };
}

/** A scheduler wrapped so that its output passes through `bend` (and optionally draws extra noise). */
function wrapped(inner: Scheduler, bend: (v: number) => number, extraDraws = 0): Scheduler {
  return {
    order: inner.order,
    initNoiseSigma: inner.initNoiseSigma,
    timesteps: inner.timesteps,
    scaleModelInput: (i) => inner.scaleModelInput(i),
    addNoise: (o, n, i) => inner.addNoise(o, n, i),
    step(input: StepInput): StepOutput {
      const out = inner.step(input);
      let prev = out.prevSample.map(bend);
      for (let k = 0; k < extraDraws; k++) {
        const noise = input.rng.randn(input.shape);
        prev = prev.map((v, i) => v + 0.01 * (noise[i] as number));
      }
      return { prevSample: prev };
    },
  };
}

describe('nonlinearOption', () => {
  it('finds DDIM and DDPM clipping by default, as diffusers does, unless the config turns it off', () => {
    expect(nonlinearOption(turbo, 'DDIM')).toBe('clip_sample');
    expect(nonlinearOption(turbo, 'DDPM')).toBe('clip_sample');
    expect(nonlinearOption(sd15, 'DDIM')).toBeUndefined();
    expect(nonlinearOption(configs['tiny-sd2-v']!, null)).toBeUndefined();
  });

  it('finds clipping and thresholding where the class honours them, and ignores them where it does not', () => {
    expect(nonlinearOption({ ...sd15, clip_sample: true }, 'Heun')).toBe('clip_sample');
    expect(nonlinearOption({ ...sd15, clip_sample: true }, 'LCM')).toBe('clip_sample');
    expect(nonlinearOption({ ...sd15, thresholding: true }, 'DPM++ 2M Karras')).toBe('thresholding');
    expect(nonlinearOption({ ...sd15, thresholding: true }, 'UniPC')).toBe('thresholding');
    // Euler has neither option (diffusers' EulerDiscreteScheduler ignores both keys)
    expect(nonlinearOption({ ...sd15, clip_sample: true, thresholding: true }, 'Euler')).toBeUndefined();
  });
});

describe('probeLinearity', () => {
  it('accepts a linear loop', () => {
    const s = spec(sd15, 'DPM++ 2M SDE Karras', 12);
    expect(probeLinearity(s, planLinearLoop(s))).toBeUndefined();
  });

  it.each([
    ['DDIM clipping x0', { ...sd15, clip_sample: true }, 'DDIM'],
    ['DDPM thresholding x0', { ...sd15, thresholding: true }, 'DDPM'],
    ['DPM-Solver thresholding x0', { ...sd15, thresholding: true }, 'DPM++ 2M'],
    ['Heun clipping x0', { ...sd15, clip_sample: true }, 'Heun'],
  ] as const)('catches %s without looking at the config', (_, config, sampler) => {
    const s = spec(config, sampler, 10);
    expect(probeLinearity(s, planLinearLoop(s))).toMatch(/not a linear combination/);
  });

  it('catches nonlinear code no option names', () => {
    const s = spec(sd15, 'Euler', 5, () =>
      wrapped(createScheduler({ config: sd15, sampler: 'Euler', steps: 5 }), Math.tanh),
    );
    expect(probeLinearity(s, planLinearLoop(s))).toMatch(/of model call 1 is not a linear combination/);
    expect(planDeviceLoop(s, sd15, 'Euler').reason).toMatch(/not a linear combination/);
  });
});

describe('planLinearLoop', () => {
  it('numbers the sources in the order the loop makes them, coefficients as the scheduler computes them', () => {
    const s = spec(sd15, 'Euler a', 3);
    const plan = planLinearLoop(s);
    expect(
      plan.sources.map((x) =>
        x.kind === 'start' ? 'start' : `${x.kind} ${x.call}${x.kind === 'output' ? `.${x.half}` : ''}`,
      ),
    ).toEqual([
      'start',
      'output 0.0',
      'output 0.1',
      'draw 0',
      'output 1.0',
      'output 1.1',
      'draw 1',
      'output 2.0',
      'output 2.1',
      'draw 2',
    ]);
    const scheduler = createScheduler({ config: sd15, sampler: 'Euler a', steps: 3 });
    // the first call's latents are the noise times the initial sigma (float32)
    expect(Array.from(plan.calls[0]!.sample)).toEqual([Math.fround(scheduler.initNoiseSigma), ...new Array(9).fill(0)]);
    expect(plan.calls.map((c) => c.inputScale)).toEqual([0, 1, 2].map((i) => scheduler.scaleModelInput(i)));
    // guidance weighs the unconditional output 1 - g and the prompt side g
    const second = plan.calls[1]!.sample;
    expect(second[2]! / second[1]!).toBeCloseTo(7.5 / (1 - 7.5), 5);
  });

  it('makes room for a scheduler that draws more noise than guessed', () => {
    const s = spec(sd15, 'Euler', 4, () =>
      wrapped(createScheduler({ config: sd15, sampler: 'Euler', steps: 4 }), (v) => v, 3),
    );
    const plan = planLinearLoop(s);
    expect(plan.sources.filter((x) => x.kind === 'draw')).toHaveLength(12);
    expect(plan.final).toHaveLength(plan.sources.length);
    expect(probeLinearity(s, plan)).toBeUndefined();
  });
});
