import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  createScheduler,
  findSampler,
  isKarrasSampler,
  SAMPLER_NAMES,
  SAMPLERS,
  SCHEDULER_CLASS_NAMES,
  splitSamplerName,
} from '../../../src/core/schedulers/registry.ts';
import { FIXTURES } from '../../fixtures.ts';
import { modelConfigs } from './harness.ts';

const sd15 = modelConfigs()['tiny-sd15']!;

/** The fixtures README's sampler table: | name | diffusers class | arguments |. */
function readmeTable(): Map<string, string> {
  const text = readFileSync(resolve(FIXTURES, 'README.md'), 'utf8');
  const rows = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^\| ([^|]+?) \| ([A-Za-z0-9]+Scheduler) \|/.exec(line);
    if (m) for (const name of m[1]!.split(' / ')) rows.set(name.trim(), m[2]!);
  }
  return rows;
}

describe('sampler registry', () => {
  it('lists the A1111 sampler names in order', () => {
    expect(SAMPLER_NAMES).toEqual([
      'Euler',
      'Euler a',
      'Heun',
      'LMS',
      'LMS Karras',
      'DPM2',
      'DPM2 Karras',
      'DPM2 a',
      'DPM2 a Karras',
      'DPM++ 2M',
      'DPM++ 2M Karras',
      'DPM++ 2M SDE',
      'DPM++ 2M SDE Karras',
      'DPM++ SDE',
      'DPM++ SDE Karras',
      'DDIM',
      'PLMS',
      'UniPC',
      'DEIS',
      'DDPM',
      'LCM',
    ]);
  });

  it('maps every name to the class the fixtures README names', () => {
    const table = readmeTable();
    expect(table.size).toBe(SAMPLER_NAMES.length);
    for (const entry of SAMPLERS) {
      expect(table.get(entry.name)).toBe(entry.className);
      expect(createScheduler({ config: sd15, sampler: entry.name, steps: 4 }).constructor.name).toBe(entry.className);
    }
  });

  it('adds Karras sigmas and the SDE algorithm as arguments', () => {
    for (const entry of SAMPLERS) {
      expect(entry.args['use_karras_sigmas'] === true).toBe(entry.name.endsWith('Karras'));
      expect(entry.args['algorithm_type'] === 'sde-dpmsolver++').toBe(entry.name.startsWith('DPM++ 2M SDE'));
    }
    expect(isKarrasSampler('DPM++ 2M Karras')).toBe(true);
    expect(isKarrasSampler('DPM++ 2M')).toBe(false);
    expect(splitSamplerName('DPM++ 2M SDE Karras')).toEqual({ sampler: 'DPM++ 2M SDE', scheduleType: 'Karras' });
    expect(splitSamplerName('Euler a')).toEqual({ sampler: 'Euler a', scheduleType: 'Automatic' });
  });

  it('matches names ignoring case as a courtesy', () => {
    expect(findSampler('euler a').name).toBe('Euler a');
    expect(findSampler('DPM++ 2m karras').name).toBe('DPM++ 2M Karras');
  });

  it('rejects unknown sampler names, listing the valid ones', () => {
    expect(() => createScheduler({ config: sd15, sampler: 'Eulr', steps: 20 })).toThrow(
      expect.objectContaining({
        code: 'unknown-sampler',
        message: `Unknown sampler "Eulr". Expected one of: ${SAMPLER_NAMES.join(', ')}.`,
      }),
    );
  });

  it.each([0, -3, 2.5, Number.NaN])('rejects %s steps', (steps) => {
    expect(() => createScheduler({ config: sd15, sampler: 'Euler', steps })).toThrow(
      expect.objectContaining({ code: 'bad-argument' }),
    );
  });

  it('builds the model’s own scheduler when no sampler is named', () => {
    for (const [model, config] of Object.entries(modelConfigs())) {
      const scheduler = createScheduler({ config, sampler: null, steps: 10 });
      expect(scheduler.constructor.name, model).toBe(config['_class_name']);
    }
  });

  it('rejects a config class it does not implement, listing the supported ones', () => {
    const config = { ...sd15, _class_name: 'FlowMatchEulerDiscreteScheduler' };
    expect(() => createScheduler({ config, sampler: null, steps: 10 })).toThrow(
      expect.objectContaining({
        code: 'unsupported-model',
        message: expect.stringContaining(SCHEDULER_CLASS_NAMES.join(', ')),
      }),
    );
  });
});
