import { describe, expect, it } from 'vitest';
import { samplerFromInfotext } from '../../../src/core/schedulers/a1111-samplers.ts';
import { createScheduler, findSampler } from '../../../src/core/schedulers/registry.ts';
import { modelConfigs } from './harness.ts';

const sd15 = modelConfigs()['tiny-sd15']!;

describe('samplerFromInfotext', () => {
  it.each([
    // A1111 1.9+: Sampler and Schedule type apart; Automatic is the sampler's default there
    ['DPM++ 2M', 'Karras', 'DPM++ 2M Karras'],
    ['DPM++ 2M', 'Automatic', 'DPM++ 2M Karras'],
    ['DPM++ 2M', 'Uniform', 'DPM++ 2M'],
    ['DPM++ SDE', 'Automatic', 'DPM++ SDE Karras'],
    ['DPM2 a', 'Automatic', 'DPM2 a Karras'],
    ['Euler', 'Automatic', 'Euler'],
    ['Euler', 'Karras', 'Euler Karras'],
    ['Heun', 'karras', 'Heun Karras'],
    ['Euler a', 'SGM Uniform', 'Euler a SGM Uniform'],
    ['DPM++ 2M SDE', 'SGMUniform', 'DPM++ 2M SDE SGM Uniform'],
    ['LCM', 'Automatic', 'LCM'],
    // timestep samplers: A1111 applies no schedule type to them
    ['DDIM', 'Beta', 'DDIM'],
    ['UniPC', 'Karras', 'UniPC'],
  ])('reads Sampler %s + Schedule type %s as %s', (sampler, schedule, ours) => {
    expect(samplerFromInfotext(sampler, schedule)).toEqual({
      isReproducible: true,
      sampler: ours,
      scheduleType: expect.any(String),
    });
  });

  it.each([
    // before 1.9 (no Schedule type): combined names, plain meaning uniform
    ['DPM++ 2M Karras', 'DPM++ 2M Karras'],
    ['DPM++ 2M', 'DPM++ 2M'],
    ['DPM++ 2M SDE', 'DPM++ 2M SDE'],
    ['Euler a', 'Euler a'],
    ['euler a', 'Euler a'],
    ['LMS Karras', 'LMS Karras'],
    ['DPM2 a Karras', 'DPM2 a Karras'],
  ])('reads the old combined name %s as %s', (sampler, ours) => {
    const restored = samplerFromInfotext(sampler);
    expect(restored.isReproducible && restored.sampler).toBe(ours);
  });

  it('lets a schedule suffix in the name win over the Schedule type key, as A1111 does', () => {
    expect(samplerFromInfotext('DPM++ 2M Karras', 'Automatic')).toEqual({
      isReproducible: true,
      sampler: 'DPM++ 2M Karras',
      scheduleType: 'Karras',
    });
  });

  it.each([
    [
      'DPM++ 2M',
      'Exponential',
      'diffusers 0.27.2, which these schedulers port, has no exponential sigmas',
      'DPM++ 2M Karras',
    ],
    ['DPM++ 2M SDE', 'Automatic', 'has no exponential sigmas', 'DPM++ 2M SDE Karras'],
    ['DPM++ 2M SDE Exponential', undefined, 'has no exponential sigmas', 'DPM++ 2M SDE Karras'],
    ['Euler', 'Align Your Steps', 'no Align Your Steps timestep lists', 'Euler Karras'],
    ['Euler', 'Beta', 'no beta sigmas', 'Euler Karras'],
    ['DPM++ 2M', 'Polyexponential', 'no polyexponential sigmas', 'DPM++ 2M Karras'],
    ['Euler', 'KL Optimal', 'no KL-optimal schedule', 'Euler Karras'],
    ['Euler', 'Simple', '"Simple" schedule', 'Euler Karras'],
    ['Euler', 'Normal', '"Normal" schedule', 'Euler Karras'],
    ['Euler', 'DDIM', '"DDIM" sigma schedule', 'Euler Karras'],
    ['Euler a', 'Karras', 'cannot run Euler a with the Karras schedule', 'Euler a'],
    ['DPM++ SDE', 'SGM Uniform', 'cannot run DPM++ SDE with the SGM Uniform schedule', 'DPM++ SDE Karras'],
    ['LCM', 'Karras', 'cannot run LCM with the Karras schedule', 'LCM'],
    ['DPM++ 2M SDE Heun', 'Karras', 'Heun variant of the DPM++ 2M SDE solver', 'DPM++ 2M SDE Karras'],
    ['DPM++ 3M SDE', 'Exponential', 'third-order DPM++ SDE solver', 'DPM++ 2M SDE Karras'],
    ['DDIM CFG++', 'Automatic', 'no CFG++ variant of DDIM', 'DDIM'],
    ['Restart', 'Automatic', 'no Restart sampler', undefined],
    ['DPM++ 2S a', 'Karras', 'no DPM++ 2S ancestral scheduler', undefined],
    ['DPM adaptive', 'Automatic', 'adaptive step size', undefined],
    ['Euler', 'Turbo', "not one of AUTOMATIC1111's", 'Euler'],
  ])('reports %s with %s as not reproducible', (sampler, schedule, reason, closest) => {
    const restored = samplerFromInfotext(sampler, schedule);
    if (restored.isReproducible) throw new Error(`expected ${sampler} / ${schedule} to be reported`);
    expect(restored.message).toContain(`Sampler "${sampler.replace(' Exponential', '')}"`);
    expect(restored.message).toContain(reason);
    expect(restored.closest).toBe(closest);
    expect(restored.message).toMatch(closest ? `The closest sampler here is "${closest}"` : 'Pick a sampler yourself');
  });

  it('names unknown samplers and diffusers class names', () => {
    const unknown = samplerFromInfotext('Eulr');
    expect(!unknown.isReproducible && unknown.message).toMatch(
      /^Sampler "Eulr" cannot be reproduced here: it is not an AUTOMATIC1111 sampler this project knows \(known: DPM\+\+ 2M, /,
    );
    const cls = samplerFromInfotext('PNDMScheduler');
    expect(!cls.isReproducible && cls.message).toContain('names a diffusers scheduler class');
  });

  it('gives names that build the scheduler with the schedule arguments', () => {
    expect(findSampler('Euler SGM Uniform').args).toEqual({ timestep_spacing: 'trailing' });
    expect(findSampler('DPM++ 2M SGM Uniform').args).toEqual({
      use_karras_sigmas: false,
      timestep_spacing: 'trailing',
    });
    expect(findSampler('heun karras').args).toEqual({ use_karras_sigmas: true });
    const trailing = createScheduler({ config: sd15, sampler: 'Euler SGM Uniform', steps: 4 });
    expect([...trailing.timesteps]).toEqual([999, 749, 499, 249]);
    const karras = createScheduler({ config: sd15, sampler: 'Euler Karras', steps: 4 });
    const plain = createScheduler({ config: sd15, sampler: 'Euler', steps: 4 });
    expect(karras.timesteps[0]).toBeCloseTo(plain.timesteps[0]!, 3);
    expect(Math.abs(karras.timesteps[1]! - plain.timesteps[1]!)).toBeGreaterThan(10);
  });
});
