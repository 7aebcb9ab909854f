import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ClipTokenizer } from '../../../src/core/tokenizer/clip-tokenizer.ts';
import { isSdError } from '../../../src/core/errors.ts';
import { MODELS, readReferenceJson } from '../../fixtures.ts';

interface TokenizerCase {
  text: string;
  ids_pad_eos: number[];
  ids_pad_bang: number[];
  ids_untruncated: number[];
}

const reference = readReferenceJson<{ cases: TokenizerCase[] }>('tokenizer.json');
const dir = resolve(MODELS, 'tiny-sd15/tokenizer');
const vocabJson = readFileSync(resolve(dir, 'vocab.json'), 'utf8');
const mergesTxt = readFileSync(resolve(dir, 'merges.txt'), 'utf8');
const bundledMerges = readFileSync(resolve(import.meta.dirname, '../../../public/clip/merges.txt'), 'utf8');
const tokenizer = ClipTokenizer.fromFiles(vocabJson, mergesTxt);

describe('ClipTokenizer against transformers', () => {
  it('has the standard special ids', () => {
    expect(tokenizer.bosId).toBe(49406);
    expect(tokenizer.eosId).toBe(49407);
    expect(tokenizer.padId).toBe(49407);
    expect(tokenizer.tokenId(',</w>')).toBe(267);
  });

  for (const c of reference.cases) {
    it(`tokenizes ${JSON.stringify(c.text.slice(0, 40))}`, () => {
      expect(tokenizer.encode(c.text)).toEqual(c.ids_untruncated);
      expect(Array.from(tokenizer.tokenize77(c.text, 49407))).toEqual(c.ids_pad_eos);
      expect(Array.from(tokenizer.tokenize77(c.text, 0))).toEqual(c.ids_pad_bang);
    });
  }

  it('pads with the configured pad token by default', () => {
    const bang = ClipTokenizer.fromFiles(vocabJson, mergesTxt, { padToken: '!' });
    expect(bang.padId).toBe(0);
    for (const c of reference.cases) expect(Array.from(bang.tokenize77(c.text))).toEqual(c.ids_pad_bang);
  });

  it('rejects a pad token outside the vocabulary', () => {
    let error: unknown;
    try {
      ClipTokenizer.fromFiles(vocabJson, mergesTxt, { padToken: '<pad>' });
    } catch (e) {
      error = e;
    }
    expect(isSdError(error, 'unsupported-model')).toBe(true);
  });

  it('builds from files well under 300 ms', () => {
    let fastestMs = Infinity;
    for (let i = 0; i < 3; i++) {
      const start = performance.now();
      ClipTokenizer.fromFiles(vocabJson, mergesTxt);
      fastestMs = Math.min(fastestMs, performance.now() - start);
    }
    expect(fastestMs).toBeLessThan(300);
  });
});

describe('bundled fallback vocabulary', () => {
  it('is the standard CLIP merges list', () => {
    expect(bundledMerges).toBe(mergesTxt);
  });

  it('rebuilds exactly the vocab.json of the models', () => {
    const rebuilt = ClipTokenizer.fromMerges(bundledMerges);
    const vocab = JSON.parse(vocabJson) as Record<string, number>;
    expect(rebuilt.vocabSize).toBe(Object.keys(vocab).length);
    const mismatches = Object.entries(vocab).filter(([token, id]) => rebuilt.tokenId(token) !== id);
    expect(mismatches).toEqual([]);
  });

  it('tokenizes like the files it replaces', () => {
    const rebuilt = ClipTokenizer.fromMerges(bundledMerges);
    for (const c of reference.cases) expect(rebuilt.encode(c.text)).toEqual(c.ids_untruncated);
  });
});
