import { describe, expect, it } from 'vitest';
import { samplingOfInfotext } from '../../../src/core/png/infotext-sampling.ts';

const line = (rest: string): string => `a cat\nNegative prompt: blurry\nSteps: 20, Sampler: ${rest}`;

describe('samplingOfInfotext', () => {
  it('AUTOMATIC1111 images (Version v1…, or none) select a1111 with the sampler and schedule', () => {
    const r = samplingOfInfotext(line('DPM++ 2M, Schedule type: Karras, CFG scale: 7, Seed: 1, Version: v1.10.1'));
    expect(r).toMatchObject({ sampling: 'a1111', sampler: 'DPM++ 2M Karras', problems: [] });
    expect(samplingOfInfotext(line('Euler a, CFG scale: 7, Seed: 1, ENSD: 31337'))).toMatchObject({
      sampling: 'a1111',
      sampler: 'Euler a',
      etaNoiseSeedDelta: 31337,
    });
    expect(
      samplingOfInfotext(line('DPM++ 2M, Schedule type: Automatic, CFG scale: 7, Version: f2.0.1v1.10.1')).sampler,
    ).toBe('DPM++ 2M Karras');
  });
  it('our images keep their mode: the Sampling key, else the PNG chunk', () => {
    expect(samplingOfInfotext(line('Euler, CFG scale: 7, Seed: 1, Sampling: a1111')).sampling).toBe('a1111');
    expect(samplingOfInfotext(line('Euler, CFG scale: 7, Seed: 1'), 'diffusers').sampling).toBe('diffusers');
    expect(samplingOfInfotext(line('Euler, CFG scale: 7, Seed: 1, Version: 0.1.0')).sampling).toBe('diffusers');
  });
  it('names what a1111 mode cannot run', () => {
    const r = samplingOfInfotext(line('DPM++ 2M SDE, Schedule type: Exponential, CFG scale: 7, Seed: 1'));
    expect(r.sampler).toBeUndefined();
    expect(r.problems[0]).toMatch(/DPM\+\+ 2M SDE.*Brownian tree/);
  });
});
