import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CompVisSchedule } from '../../../src/core/kdiffusion/compvis-schedule.ts';
import { kSamplerSigmas, resolveKSampler } from '../../../src/core/kdiffusion/k-samplers.ts';
import { scheduleSigmas, type ScheduleType } from '../../../src/core/kdiffusion/schedule-types.ts';
import { FIXTURES } from '../../fixtures.ts';

const CASES = resolve(FIXTURES, 'single-file/a1111-cases');
const model = new CompVisSchedule();
const ctx = { model, isSdxl: false };

interface A1111Case {
  id: string;
  sampler: string;
  schedule?: string;
  steps: number;
  sigmas: number[];
}

const cases = readdirSync(CASES)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((f) => JSON.parse(readFileSync(resolve(CASES, f), 'utf8')) as A1111Case);

describe('A1111 σ schedules', () => {
  it('finds the cases', () => expect(cases.length).toBeGreaterThanOrEqual(3));
  it.each(cases)('$id: the exact σ sequence A1111 used', (c) => {
    const sigmas = kSamplerSigmas(resolveKSampler(c.sampler, c.schedule ?? 'Automatic'), c.steps, model, false);
    expect(sigmas.length).toBe(c.sigmas.length);
    // float32 values; torch's log/exp may differ from JavaScript's by a few ulps
    c.sigmas.forEach((s, i) => expect(Math.abs((sigmas[i] as number) - s)).toBeLessThanOrEqual(5e-7 * s));
  });

  it('σ_min, σ_max of the LDM schedule', () => {
    expect(model.sigmaMin).toBeCloseTo(0.0291675, 6);
    expect(model.sigmaMax).toBeCloseTo(14.614642, 5);
  });

  const n = 10;
  const types: ScheduleType[] = ['Uniform', 'Karras', 'Exponential', 'Polyexponential', 'SGM Uniform', 'Normal'];
  it.each(types)('%s: n + 1 values from about σ_max down to 0, decreasing', (type) => {
    const s = scheduleSigmas(type, n, ctx);
    expect(s.length).toBe(n + 1);
    expect(s[n]).toBe(0);
    expect(s[0]).toBeCloseTo(model.sigmaMax, 4);
    for (let i = 0; i < n; i++) expect(s[i]!).toBeGreaterThan(s[i + 1]!);
  });

  it('Exponential is geometric, Polyexponential (ρ = 1) the same', () => {
    const e = scheduleSigmas('Exponential', n, ctx);
    const p = scheduleSigmas('Polyexponential', n, ctx);
    for (let i = 0; i < n - 1; i++) expect(e[i + 1]! / e[i]!).toBeCloseTo(e[1]! / e[0]!, 5);
    for (let i = 0; i < n; i++) expect(p[i]!).toBeCloseTo(e[i]!, 4);
    expect(e[n - 1]).toBeCloseTo(model.sigmaMin, 6);
  });

  it('SGM Uniform stops one step above σ_min; Normal ends on it', () => {
    expect(scheduleSigmas('Normal', n, ctx)[n - 1]).toBeCloseTo(model.sigmaMin, 6);
    expect(scheduleSigmas('SGM Uniform', n, ctx)[n - 1]).toBeCloseTo(model.tToSigma(99.9), 4);
  });

  it('Simple, DDIM, KL Optimal and Align Your Steps as sd_schedulers.py builds them', () => {
    const simple = scheduleSigmas('Simple', 4, ctx);
    expect([...simple]).toEqual([model.sigmas[999], model.sigmas[749], model.sigmas[499], model.sigmas[249], 0]);
    // DDIM: training σ at 1, 1 + 66, … (15 steps → 16 values), reversed
    const ddim = scheduleSigmas('DDIM', 15, ctx);
    expect(ddim.length).toBe(17);
    expect(ddim[15]).toBe(model.sigmas[1]);
    expect(ddim[0]).toBe(model.sigmas[1 + 15 * 66]);
    const kl = scheduleSigmas('KL Optimal', n, ctx);
    expect(kl.length).toBe(n + 1);
    expect(kl[n]).toBeCloseTo(model.sigmaMin, 6);
    expect(kl[0]).toBeCloseTo(model.sigmaMax, 4);
    const ays = scheduleSigmas('Align Your Steps', 11, ctx);
    expect([...ays]).toEqual(
      [14.615, 6.475, 3.861, 2.697, 1.886, 1.396, 0.963, 0.652, 0.399, 0.152, 0.029, 0].map(Math.fround),
    );
    const ays6 = scheduleSigmas('Align Your Steps', 6, ctx);
    expect(ays6[0]).toBeCloseTo(14.615, 3);
    expect(ays6[5]).toBeCloseTo(0.029, 5);
    expect(ays6[6]).toBe(0);
  });

  it('Beta as A1111 builds it with scipy.stats.beta.ppf(1 − linspace(0, 1, n), 0.6, 0.6)', () => {
    // A1111 1.10's beta_scheduler run with scipy 1.17 and torch 2.13 on this model's σ_min, σ_max
    expect([...scheduleSigmas('Beta', 5, ctx)]).toEqual([
      14.614642143249512, 12.052260398864746, 7.32190465927124, 2.5915491580963135, 0.029167532920837402, 0,
    ]);
    // numpy's linspace(0, 1, 1) is [0]: one step starts at σ_max
    expect([...scheduleSigmas('Beta', 1, ctx)]).toEqual([model.sigmaMax, 0]);
    const beta = scheduleSigmas('Beta', 30, ctx);
    expect(beta.length).toBe(31);
    // Beta(0.6, 0.6) is symmetric: the σ pairs around the middle step average the middle of the range
    const mid = (model.sigmaMin + model.sigmaMax) / 2;
    for (let i = 0; i < 30; i++) expect(((beta[i] as number) + (beta[29 - i] as number)) / 2).toBeCloseTo(mid, 5);
  });

  it('DPM2 drops the next-to-last σ of one step more', () => {
    const plain = scheduleSigmas('Karras', 11, ctx);
    const dpm2 = kSamplerSigmas(resolveKSampler('DPM2', 'Automatic'), 10, model, false);
    expect([...dpm2]).toEqual([...plain.subarray(0, 10), 0]);
  });
});

describe('sigma_to_t and t_to_sigma', () => {
  it('map the ends to 999 and 0', () => {
    expect(model.sigmaToT(model.sigmaMax)).toBe(999);
    expect(model.sigmaToT(model.sigmaMin)).toBe(0);
    expect(model.tToSigma(999)).toBeCloseTo(model.sigmaMax, 5);
  });
  it('interpolate log σ linearly between training steps, clamped outside', () => {
    for (const t of [0.5, 17.25, 500.5, 998.75]) expect(model.sigmaToT(model.tToSigma(t))).toBeCloseTo(t, 2);
    const lo = model.logSigmas[100]!;
    const hi = model.logSigmas[101]!;
    expect(model.sigmaToT(Math.exp(lo + 0.25 * (hi - lo)))).toBeCloseTo(100.25, 3);
    expect(model.sigmaToT(100)).toBe(999);
    expect(model.sigmaToT(0.001)).toBe(0);
  });
  it('c_in = 1 / sqrt(σ² + 1)', () => {
    expect(CompVisSchedule.inputScale(1)).toBeCloseTo(Math.SQRT1_2, 7);
  });
});

describe('A1111 sampler names in a1111 mode', () => {
  it('splits combined names and resolves Automatic per sampler', () => {
    expect(resolveKSampler('DPM++ 2M Karras')).toEqual({
      sampler: 'DPM++ 2M',
      scheduleType: 'Karras',
      schedule: 'Karras',
    });
    expect(resolveKSampler('DPM++ 2M', 'Automatic').schedule).toBe('Karras');
    expect(resolveKSampler('euler a', 'Automatic').schedule).toBe('Uniform');
    expect(resolveKSampler('DPM2 a', 'sgm_uniform').schedule).toBe('SGM Uniform');
    expect(resolveKSampler('LMS').schedule).toBe('Uniform');
  });
  it('refuses the SDE samplers and unknown names with what it can run', () => {
    expect(() => resolveKSampler('DPM++ 2M SDE Karras')).toThrow(
      /Brownian tree.*not be exact.*Expected one of: DPM\+\+ 2M/,
    );
    expect(() => resolveKSampler('Eulr')).toThrow(/Unknown sampler "Eulr"/);
    expect(() => resolveKSampler('Euler', 'Weird')).toThrow(/Unknown schedule type "Weird"/);
  });
});
