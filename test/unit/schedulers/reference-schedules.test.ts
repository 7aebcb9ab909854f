import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createScheduler } from '../../../src/core/schedulers/registry.ts';
import type { RawSchedulerConfig } from '../../../src/core/schedulers/scheduler.ts';
import { MODELS, REFERENCE, readReferenceJson } from '../../fixtures.ts';

interface ReferenceCase {
  id: string;
  model: string;
  sampler: string | null;
  steps: number;
  scheduler?: string;
  timesteps?: number[];
  sigmas?: number[] | null;
}

const cases = readdirSync(resolve(REFERENCE, 'cases'))
  .filter((f) => f.endsWith('.json'))
  .map((f) => readReferenceJson<ReferenceCase>(`cases/${f}`))
  .filter((c) => c.timesteps !== undefined);

function modelConfig(model: string): RawSchedulerConfig {
  return JSON.parse(readFileSync(resolve(MODELS, model, 'scheduler/scheduler_config.json'), 'utf8'));
}

describe('schedules diffusers computed for the reference cases', () => {
  it('has cases with schedules to check', () => {
    expect(cases.length).toBeGreaterThanOrEqual(6);
  });

  it.each(cases.map((c) => [c.id, c] as const))('%s', (_, c) => {
    const scheduler = createScheduler({ config: modelConfig(c.model), sampler: c.sampler, steps: c.steps });
    expect(scheduler.constructor.name).toBe(c.scheduler);
    expect(Array.from(scheduler.timesteps)).toEqual(c.timesteps);
    if (c.sigmas) {
      const sigmas = (scheduler as unknown as { sigmas?: ArrayLike<number> }).sigmas;
      expect(sigmas).toBeDefined();
      const actual = Array.from(sigmas as ArrayLike<number>);
      expect(actual).toHaveLength(c.sigmas.length);
      c.sigmas.forEach((s, i) => {
        expect(Math.abs((actual[i] as number) - s)).toBeLessThanOrEqual(1e-7 * Math.abs(s));
      });
      // For the sigma samplers the initial noise is scaled by the largest sigma (linspace/trailing spacing).
      if (c.sampler === null || !c.sampler.startsWith('DPM++')) {
        expect(Math.abs(scheduler.initNoiseSigma - Math.max(...c.sigmas))).toBeLessThanOrEqual(1e-6 * 15);
      }
    }
  });
});
