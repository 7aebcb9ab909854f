import { describe, expect, it } from 'vitest';
import { DEFAULT_SETTINGS, formatShareQuery, parseShareQuery } from '../../../src/lib/share-link.ts';
import { loadCases } from '../../oracle/cases.ts';

describe('share links', () => {
  const cases = loadCases();

  it.each(cases.map((c) => [c.id, c] as const))('carries every parameter of reference case %s through the URL', (_id, c) => {
    const query = formatShareQuery({
      model: `https://example.org/models/${c.model}`,
      prompt: c.prompt,
      negative: c.negative_prompt,
      sampler: c.sampler,
      steps: c.steps,
      cfg: c.cfg,
      seed: String(c.seed),
      width: c.width,
      height: c.height,
      strength: c.strength ?? DEFAULT_SETTINGS.strength,
      batch: 1,
      rng: c.rng ?? 'cpu',
    });
    const { settings, problems } = parseShareQuery(`?${query}`);
    expect(problems).toEqual([]);
    expect(settings).toEqual({
      model: `https://example.org/models/${c.model}`,
      prompt: c.prompt,
      negative: c.negative_prompt,
      sampler: c.sampler,
      steps: c.steps,
      cfg: c.cfg,
      seed: String(c.seed),
      width: c.width,
      height: c.height,
      strength: c.strength ?? DEFAULT_SETTINGS.strength,
      batch: 1,
      rng: c.rng ?? 'cpu',
    });
  });

  it('uses the documented parameter names', () => {
    const q = new URLSearchParams(formatShareQuery({ ...DEFAULT_SETTINGS, sampler: 'Euler a', width: 512, height: 768 }));
    expect([...q.keys()].sort()).toEqual(['batch', 'cfg', 'height', 'model', 'negative', 'prompt', 'sampler', 'seed', 'steps', 'strength', 'width']);
  });

  it('keeps seeds above 2^53 exact and accepts -1 for random', () => {
    expect(parseShareQuery('?seed=18446744073709551615').settings.seed).toBe('18446744073709551615');
    expect(parseShareQuery('?seed=-1').settings.seed).toBe('-1');
  });

  it('reports unusable values, names what is allowed, and keeps the defaults', () => {
    const { settings, problems } = parseShareQuery('?width=500&steps=0&cfg=abc&seed=18446744073709551616&rng=nv&batch=2.5');
    expect(settings.width).toBe(DEFAULT_SETTINGS.width);
    expect(settings.steps).toBe(DEFAULT_SETTINGS.steps);
    expect(settings.cfg).toBe(DEFAULT_SETTINGS.cfg);
    expect(settings.seed).toBe(DEFAULT_SETTINGS.seed);
    expect(settings.rng).toBe('cpu');
    expect(settings.batch).toBe(DEFAULT_SETTINGS.batch);
    expect(problems).toHaveLength(6);
    expect(problems.find((p) => p.startsWith('width=500'))).toMatch(/multiple of 8/);
  });

  it('treats an empty sampler as the model default', () => {
    expect(parseShareQuery('?sampler=').settings.sampler).toBeNull();
  });
});

describe('share links in a page address', () => {
  it('keep parameters that are not settings (e.g. hf_endpoint) and replace the settings', () => {
    const query = formatShareQuery({ ...DEFAULT_SETTINGS, prompt: 'new' }, '?hf_endpoint=https%3A%2F%2Fhf-mirror.com&prompt=old&steps=3');
    const q = new URLSearchParams(query);
    expect(q.get('hf_endpoint')).toBe('https://hf-mirror.com');
    expect(q.getAll('prompt')).toEqual(['new']);
    expect(q.get('steps')).toBe(String(DEFAULT_SETTINGS.steps));
  });
});
