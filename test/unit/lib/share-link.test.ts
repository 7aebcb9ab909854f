import { describe, expect, it } from 'vitest';
import { parseModelSource } from '../../../src/core/store/model-source.ts';
import { kSamplerNames } from '../../../src/core/kdiffusion/k-samplers.ts';
import { SAMPLER_NAMES } from '../../../src/core/schedulers/registry.ts';
import { defaultControlNet } from '../../../src/lib/controlnet-unit.ts';
import {
  checkSampler,
  CONTROLNET_QUERY_NAMES,
  DEFAULT_SETTINGS,
  formatShareQuery,
  isModelReference,
  localModelName,
  parseShareQuery,
  QUERY_NAMES,
  queryNamesOf,
} from '../../../src/lib/share-link.ts';
import { loadCases } from '../../oracle/cases.ts';

describe('share links', () => {
  const cases = loadCases();

  it.each(cases.map((c) => [c.id, c] as const))(
    'carries every parameter of reference case %s through the URL',
    (_id, c) => {
      const query = formatShareQuery({
        model: `https://example.org/models/${c.model}`,
        prompt: c.prompt,
        negativePrompt: c.negative_prompt,
        sampler: c.sampler,
        steps: c.steps,
        cfgScale: c.cfg,
        seed: String(c.seed),
        width: c.width,
        height: c.height,
        denoisingStrength: c.strength ?? DEFAULT_SETTINGS.denoisingStrength,
        batchSize: 1,
        rng: c.rng ?? 'cpu',
        sampling: 'diffusers',
        etaNoiseSeedDelta: 0,
        controlNet: defaultControlNet(),
      });
      const { settings, problems } = parseShareQuery(`?${query}`);
      expect(problems).toEqual([]);
      expect(settings).toEqual({
        model: `https://example.org/models/${c.model}`,
        prompt: c.prompt,
        negativePrompt: c.negative_prompt,
        sampler: c.sampler,
        steps: c.steps,
        cfgScale: c.cfg,
        seed: String(c.seed),
        width: c.width,
        height: c.height,
        denoisingStrength: c.strength ?? DEFAULT_SETTINGS.denoisingStrength,
        batchSize: 1,
        rng: c.rng ?? 'cpu',
        sampling: 'diffusers',
        etaNoiseSeedDelta: 0,
        controlNet: defaultControlNet(),
      });
    },
  );

  it('uses the documented parameter names', () => {
    const q = new URLSearchParams(
      formatShareQuery({ ...DEFAULT_SETTINGS, sampler: 'Euler a', width: 512, height: 768 }),
    );
    expect([...q.keys()].sort()).toEqual([
      'batch',
      'cfg',
      'height',
      'model',
      'negative',
      'prompt',
      'sampler',
      'seed',
      'steps',
      'strength',
      'width',
    ]);
  });

  it('maps every setting to its short query name in one table, both ways', () => {
    expect(QUERY_NAMES).toMatchObject({
      negativePrompt: 'negative',
      cfgScale: 'cfg',
      batchSize: 'batch',
      denoisingStrength: 'strength',
    });
    const { settings, given } = parseShareQuery('?negative=blurry&cfg=4.5&batch=3&strength=0.4');
    expect(settings).toMatchObject({ negativePrompt: 'blurry', cfgScale: 4.5, batchSize: 3, denoisingStrength: 0.4 });
    expect(queryNamesOf(Object.fromEntries([...given].map((name) => [name, settings[name]])))).toEqual([
      'negative',
      'cfg',
      'strength',
      'batch',
    ]);
  });

  it('keeps seeds above 2^53 exact and accepts -1 for random', () => {
    expect(parseShareQuery('?seed=18446744073709551615').settings.seed).toBe('18446744073709551615');
    expect(parseShareQuery('?seed=-1').settings.seed).toBe('-1');
  });

  it('reports unusable values, names what is allowed, and keeps the defaults', () => {
    const { settings, problems } = parseShareQuery(
      '?width=500&steps=0&cfg=abc&seed=18446744073709551616&rng=nv&batch=2.5',
    );
    expect(settings.width).toBe(DEFAULT_SETTINGS.width);
    expect(settings.steps).toBe(DEFAULT_SETTINGS.steps);
    expect(settings.cfgScale).toBe(DEFAULT_SETTINGS.cfgScale);
    expect(settings.seed).toBe(DEFAULT_SETTINGS.seed);
    expect(settings.rng).toBe('cpu');
    expect(settings.batchSize).toBe(DEFAULT_SETTINGS.batchSize);
    expect(problems).toHaveLength(6);
    expect(problems.find((p) => p.startsWith('width=500'))).toMatch(/multiple of 8/);
  });

  it('treats an empty sampler as the model default', () => {
    expect(parseShareQuery('?sampler=').settings.sampler).toBeNull();
  });

  it('says which settings the link gave usable values for', () => {
    const { given } = parseShareQuery('?steps=4&cfg=abc&prompt=&sampler=&model=org/name');
    expect([...given].sort()).toEqual(['model', 'prompt', 'sampler', 'steps']);
    expect(parseShareQuery('').given.size).toBe(0);
  });
});

describe('share links naming a sampler', () => {
  it("keeps a name the worker knows and reports any other, naming the choices, for the model's own scheduler", () => {
    const { settings, problems } = parseShareQuery('?sampler=%3Cb%3Ex%3C%2Fb%3E&steps=99999');
    // the parse keeps the text; the check against the worker's names replaces it
    expect(settings.sampler).toBe('<b>x</b>');
    expect(problems).toHaveLength(1);
    const checked = checkSampler(settings.sampler, SAMPLER_NAMES);
    expect(checked.sampler).toBeNull();
    expect(checked.problem).toBe(
      `sampler=<b>x</b> ignored: expected one of ${SAMPLER_NAMES.join(', ')}, or none for the model's own scheduler. Using the model's own scheduler.`,
    );
    expect(checkSampler('DPM++ 2M Karras', SAMPLER_NAMES)).toEqual({ sampler: 'DPM++ 2M Karras' });
    expect(checkSampler(null, SAMPLER_NAMES)).toEqual({ sampler: null });
    // names are exact, as A1111 writes them
    expect(checkSampler('euler a', SAMPLER_NAMES).sampler).toBeNull();
  });
});

describe('share links naming a sampling mode', () => {
  it('carries a1111 mode and its ENSD as sampling= and ensd=, and leaves the defaults out', () => {
    expect(QUERY_NAMES).toMatchObject({ sampling: 'sampling', etaNoiseSeedDelta: 'ensd' });
    const query = formatShareQuery({
      ...DEFAULT_SETTINGS,
      sampler: 'DPM++ 2M Karras',
      sampling: 'a1111',
      etaNoiseSeedDelta: 31337,
    });
    const q = new URLSearchParams(query);
    expect([q.get('sampling'), q.get('ensd'), q.get('sampler')]).toEqual(['a1111', '31337', 'DPM++ 2M Karras']);
    const { settings, given, problems } = parseShareQuery(`?${query}`);
    expect(problems).toEqual([]);
    expect(settings).toMatchObject({ sampling: 'a1111', etaNoiseSeedDelta: 31337, sampler: 'DPM++ 2M Karras' });
    expect([...given]).toEqual(expect.arrayContaining(['sampling', 'etaNoiseSeedDelta']));
    const plain = new URLSearchParams(formatShareQuery(DEFAULT_SETTINGS));
    expect([plain.has('sampling'), plain.has('ensd')]).toEqual([false, false]);
    expect(parseShareQuery('?sampling=A1111').settings.sampling).toBe('a1111');
  });

  it('reports an unknown mode or a bad ENSD and keeps the defaults', () => {
    const { settings, problems } = parseShareQuery('?sampling=comfy&ensd=-3');
    expect(settings.sampling).toBe('diffusers');
    expect(settings.etaNoiseSeedDelta).toBe(0);
    expect(problems).toEqual([
      'sampling=comfy ignored: expected diffusers or a1111. Using diffusers.',
      'ensd=-3 ignored: expected a whole number from 0 to 9007199254740991.',
    ]);
  });

  it("checks the sampler against the chosen mode's names, with that mode's default", () => {
    const a1111 = kSamplerNames();
    expect(a1111).toContain('Euler a');
    expect(a1111).toContain('DPM++ 2M Karras');
    expect(a1111).not.toContain('DPM++ 2M Automatic');
    expect(checkSampler('DPM++ 2M Karras', a1111, 'a1111')).toEqual({ sampler: 'DPM++ 2M Karras' });
    const refused = checkSampler('DPM++ 2M SDE Karras', a1111, 'a1111');
    expect(refused.sampler).toBeNull();
    expect(refused.problem).toMatch(/^sampler=DPM\+\+ 2M SDE Karras ignored: a1111 sampling runs .* Using Euler a\.$/);
    // diffusers mode's names are not a1111 mode's
    expect(checkSampler('UniPC', a1111, 'a1111').sampler).toBeNull();
    expect(checkSampler('UniPC', SAMPLER_NAMES).sampler).toBe('UniPC');
  });
});

describe('share links with a ControlNet unit', () => {
  const unit = {
    ...defaultControlNet(),
    isEnabled: true,
    model: 'control_v11p_sd15_canny',
    preprocessor: 'canny' as const,
    lowThreshold: 50,
    highThreshold: 120,
    weight: 0.6,
    start: 0.1,
    end: 0.5,
  };

  it('carries the model, preprocessor, weight, start and end as cn, cn_pre, cn_weight, cn_start, cn_end', () => {
    expect(QUERY_NAMES.controlNet).toBe('cn');
    expect(Object.values(CONTROLNET_QUERY_NAMES)).toEqual(['cn', 'cn_pre', 'cn_weight', 'cn_start', 'cn_end']);
    const query = formatShareQuery({ ...DEFAULT_SETTINGS, controlNet: unit });
    const q = new URLSearchParams(query);
    expect(Object.fromEntries([...q].filter(([name]) => name.startsWith('cn')))).toEqual({
      cn: 'control_v11p_sd15_canny',
      cn_pre: 'canny:50:120',
      cn_weight: '0.6',
      cn_start: '0.1',
      cn_end: '0.5',
    });
    const { settings, given, problems } = parseShareQuery(`?${query}`);
    expect(problems).toEqual([]);
    expect(settings.controlNet).toEqual(unit);
    expect(given.has('controlNet')).toBe(true);
    expect(queryNamesOf({ controlNet: unit })).toEqual(['cn']);
  });

  it('leaves the unit out while it is off or has no model, and reads a link without cn* as off', () => {
    for (const controlNet of [
      { ...unit, isEnabled: false },
      { ...unit, model: null },
    ]) {
      const q = new URLSearchParams(formatShareQuery({ ...DEFAULT_SETTINGS, controlNet }));
      expect([...q.keys()].filter((name) => name.startsWith('cn'))).toEqual([]);
    }
    const { settings, given } = parseShareQuery('?prompt=x');
    expect(settings.controlNet).toEqual(defaultControlNet());
    expect(given.has('controlNet')).toBe(false);
    // the parse never shares the defaults' object
    settings.controlNet.weight = 2;
    expect(DEFAULT_SETTINGS.controlNet.weight).toBe(1);
  });

  it('reads none, invert and canny (A1111 thresholds 100 / 200 when left out); the model name as written', () => {
    expect(parseShareQuery('?cn=a%20b&cn_pre=invert').settings.controlNet).toMatchObject({
      isEnabled: true,
      model: 'a b',
      preprocessor: 'invert',
    });
    expect(parseShareQuery('?cn=x&cn_pre=canny').settings.controlNet).toMatchObject({
      preprocessor: 'canny',
      lowThreshold: 100,
      highThreshold: 200,
    });
    expect(parseShareQuery('?cn=x&cn_pre=NONE').settings.controlNet.preprocessor).toBe('none');
    // thresholds are kept as given; the core's Canny orders them as OpenCV does
    expect(parseShareQuery('?cn=x&cn_pre=canny:200:100').settings.controlNet).toMatchObject({
      lowThreshold: 200,
      highThreshold: 100,
    });
  });

  it('reports unusable values, naming what is allowed, and keeps the defaults', () => {
    const { settings, problems } = parseShareQuery('?cn=%20&cn_pre=depth&cn_weight=11&cn_start=0.8&cn_end=0.5');
    expect(settings.controlNet).toEqual(defaultControlNet());
    expect(problems).toEqual([
      'cn= ignored: expected the name of a stored ControlNet.',
      'cn_pre=depth ignored: expected none, invert, or canny:LOW:HIGH with whole numbers from 0 to 255 (e.g. canny:100:200). Using none.',
      'cn_weight=11 ignored: expected a number from 0 to 10.',
      'cn_start=0.8 and cn_end=0.5 ignored: the start must come before the end (0 ≤ start < end ≤ 1). Using 0 and 1.',
    ]);
    for (const pre of ['canny:100', 'canny:-1:200', 'canny:100:256', 'canny:1.5:200', 'canny::200', 'invert:1']) {
      const parsed = parseShareQuery(`?cn=x&${new URLSearchParams({ cn_pre: pre })}`);
      expect(parsed.problems, pre).toHaveLength(1);
      expect(parsed.settings.controlNet.preprocessor).toBe('none');
    }
    expect(parseShareQuery('?cn=x&cn_start=1').problems).toEqual([
      'cn_start=1 ignored: expected a number below 1. Using 0.',
    ]);
    expect(parseShareQuery('?cn=x&cn_end=0').problems).toEqual([
      'cn_end=0 ignored: expected a number above 0. Using 1.',
    ]);
    expect(parseShareQuery('?cn=x&cn_start=0.3').settings.controlNet).toMatchObject({ start: 0.3, end: 1 });
  });

  it('replaces the cn* parameters of the current address', () => {
    const query = formatShareQuery(DEFAULT_SETTINGS, '?cn=old&cn_pre=invert&cn_weight=2&cn_start=0.5&cn_end=0.9');
    expect([...new URLSearchParams(query).keys()].filter((name) => name.startsWith('cn'))).toEqual([]);
  });
});

describe('share links naming a model', () => {
  const accepted = [
    'schmuell/sd-turbo-ort-web',
    'stable-diffusion-v1-5/stable-diffusion-v1-5@onnx',
    'org/name/onnx/sub@refs/pr/3',
    'https://example.org/models/sd15/',
    'HTTP://EXAMPLE.ORG/x',
    '/models/tiny-sd15',
    './models/x',
    '../x',
    'local:tiny-sd15',
    'local:My model (fp16)',
  ];
  const refused = [
    'local:',
    'local:a/b',
    'javascript:alert(1)',
    'JavaScript:alert(document.cookie)',
    'data:text/html,<b>x</b>',
    'file:///etc/passwd',
    'name',
    'org/../x',
    '<b>x</b>/y',
    'https://',
    'ftp://host/x',
  ];

  it.each(accepted)('accepts %s', (model) => {
    const { settings, problems } = parseShareQuery(`?${new URLSearchParams({ model })}`);
    expect(problems).toEqual([]);
    expect(settings.model).toBe(model);
  });

  it.each(refused)('reports %s and falls back to the default model', (model) => {
    const { settings, given, problems } = parseShareQuery(`?${new URLSearchParams({ model })}`);
    expect(settings.model).toBe(DEFAULT_SETTINGS.model);
    expect(given.has('model')).toBe(false);
    expect(problems).toEqual([
      `model=${model} ignored: not a Hugging Face repository id (org/name, org/name@revision, org/name/subfolder) or an http(s) URL. Using ${DEFAULT_SETTINGS.model}.`,
    ]);
  });

  it('names the folder of a local:NAME model, which is all a link carries of it', () => {
    expect(localModelName(' local:tiny-sd15 ')).toBe('tiny-sd15');
    expect(localModelName('org/local:x')).toBeUndefined();
    expect(localModelName('https://host/local:x')).toBeUndefined();
  });

  it("agrees with the core's parseModelSource on everything that is not a site path", () => {
    for (const model of [...accepted, ...refused].filter((m) => !/^\.{0,2}\//.test(m))) {
      let coreAccepts = true;
      try {
        parseModelSource(model);
      } catch {
        // the core refuses it: the page must refuse it as well (checked below)
        coreAccepts = false;
      }
      // the page may be stricter (a URL without a host), never looser
      if (isModelReference(model)) expect(coreAccepts, model).toBe(true);
    }
    expect(isModelReference('https://')).toBe(false);
  });
});

describe('share links in a page address', () => {
  it('keep parameters that are not settings (e.g. hf_endpoint) and replace the settings', () => {
    const query = formatShareQuery(
      { ...DEFAULT_SETTINGS, prompt: 'new' },
      '?hf_endpoint=https%3A%2F%2Fhf-mirror.com&prompt=old&steps=3',
    );
    const q = new URLSearchParams(query);
    expect(q.get('hf_endpoint')).toBe('https://hf-mirror.com');
    expect(q.getAll('prompt')).toEqual(['new']);
    expect(q.get('steps')).toBe(String(DEFAULT_SETTINGS.steps));
  });
});
