import { describe, expect, it } from 'vitest';
import { describeInfotext } from '../../../src/core/png/infotext-report.ts';
import { parseInfotext } from '../../../src/core/png/infotext.ts';
import { splitInfotext } from '../../../src/core/png/infotext-split.ts';
import { loraTags } from '../../../src/core/png/lora-tags.ts';
import { SAMPLES } from './infotext-samples.ts';

/** A small seeded generator (mulberry32), so a failure names a reproducible case. */
function generator(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ALPHABET = [
  'a',
  'Z',
  '0',
  '9',
  ' ',
  ',',
  ':',
  '"',
  '\\',
  '\n',
  '\r',
  '<',
  '>',
  '[',
  ']',
  '{',
  '}',
  'x',
  '-',
  '/',
  'é',
  '漢',
  '🐱',
  'Steps',
  'Sampler',
  'Negative prompt:',
  'Template:',
  '<lora:',
  '__proto__',
];

function randomText(random: () => number): string {
  const length = Math.floor(random() * 80);
  let out = '';
  for (let i = 0; i < length; i++) out += ALPHABET[Math.floor(random() * ALPHABET.length)];
  return out;
}

function everyReader(text: string): void {
  splitInfotext(text);
  parseInfotext(text);
  JSON.stringify(describeInfotext(text));
  loraTags(text);
}

describe('infotext readers never throw', () => {
  it('on random strings', () => {
    const random = generator(11);
    for (let i = 0; i < 2000; i++) {
      const text = randomText(random);
      expect(() => everyReader(text), JSON.stringify(text)).not.toThrow();
    }
  });

  it.each(Object.keys(SAMPLES))(
    'on every prefix and suffix of the %s sample, keeping what the prefix holds',
    (name) => {
      const text = SAMPLES[name as keyof typeof SAMPLES];
      for (let cut = 0; cut <= text.length; cut += 3) {
        expect(() => everyReader(text.slice(0, cut)), `prefix ${cut}`).not.toThrow();
        expect(() => everyReader(text.slice(cut)), `suffix ${cut}`).not.toThrow();
      }
      // a settings line cut after its third pair still restores those pairs
      const cut = text.indexOf('Seed:');
      const { params } = parseInfotext(text.slice(0, cut));
      if (text.slice(0, cut).split('\n').at(-1)!.split(':').length > 3) expect(params.steps).toBeGreaterThan(0);
    },
  );
});

describe('splitInfotext details of A1111 parsing', () => {
  it('cuts an unquoted value at a comma, unquotes JSON strings, and keeps a value that only looks quoted', () => {
    const { pairs } = splitInfotext('p\nAa: one, two, Bb: "x, \\"y\\": z", Cc: "not" json", Dd: 1');
    expect([...pairs]).toEqual([
      ['Aa', 'one'],
      ['Bb', 'x, "y": z'],
      ['Cc', '"not" json"'],
      ['Dd', '1'],
    ]);
  });

  it('drops a pair with an empty value as A1111 does, and lets a repeated key keep its place with the last value', () => {
    const { pairs } = splitInfotext('p\nAa: 1, Bb: , Cc: 3, Aa: 4');
    expect([...pairs]).toEqual([
      ['Aa', '4'],
      ['Cc', '3'],
    ]);
    // A1111's key pattern needs two characters: "X: 1" is no pair
    expect(splitInfotext('p\nX: 1, Y: 2, Zz: 3').hasSettings).toBe(false);
  });

  it('reads a template section only right after a settings line', () => {
    const parts = splitInfotext('Template: is part of the prompt\nx\nSteps: 1, Seed: 2, Sampler: Euler');
    expect(parts.prompt).toBe('Template: is part of the prompt\nx');
    expect(parts.templates.size).toBe(0);
    const multi = splitInfotext(
      'p\nSteps: 1, Seed: 2, Sampler: Euler\r\nTemplate: a {b|c}\r\nsecond line\r\nNegative Template: n',
    );
    expect([...multi.templates]).toEqual([
      ['Template', 'a {b|c}\nsecond line'],
      ['Negative Template', 'n'],
    ]);
    expect([...multi.pairs]).toEqual([
      ['Steps', '1'],
      ['Seed', '2'],
      ['Sampler', 'Euler'],
    ]);
  });
});

describe('loraTags', () => {
  it('reads positional and named multipliers, defaulting to 1, and null for text', () => {
    expect(
      loraTags('<lora:a> <lora:b:0.5> <lora:c:0.5:-1.25> <lora:d:te=0.3:unet=0.7> <lora:e:strong> <hypernet:h:1>'),
    ).toEqual([
      { name: 'a', te: 1, unet: 1 },
      { name: 'b', te: 0.5, unet: 0.5 },
      { name: 'c', te: 0.5, unet: -1.25 },
      { name: 'd', te: 0.3, unet: 0.7 },
      { name: 'e', te: null, unet: null },
    ]);
  });
});
