import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { chunkPrompt, countPromptTokens } from '../../../src/core/prompt/chunk-prompt.ts';
import { ClipTokenizer } from '../../../src/core/tokenizer/clip-tokenizer.ts';
import { MODELS, readReferenceJson } from '../../fixtures.ts';

interface ChunkCase {
  text: string;
  chunks: Array<{ ids: number[]; multipliers: number[] }>;
}

const reference = readReferenceJson<{ cases: ChunkCase[] }>('a1111_chunks.json');
const dir = resolve(MODELS, 'tiny-sd15/tokenizer');
const tokenizer = ClipTokenizer.fromFiles(
  readFileSync(resolve(dir, 'vocab.json'), 'utf8'),
  readFileSync(resolve(dir, 'merges.txt'), 'utf8'),
);
const EOS = 49407;

const label = (text: string): string =>
  JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}… (${text.length} chars)` : text);

describe('chunkPrompt against A1111', () => {
  for (const c of reference.cases) {
    it(`chunks ${label(c.text)}`, () => {
      const chunks = chunkPrompt(tokenizer, c.text, { padId: EOS });
      expect(chunks).toHaveLength(c.chunks.length);
      chunks.forEach((chunk, i) => {
        const expected = c.chunks[i];
        expect(Array.from(chunk.ids)).toEqual(expected?.ids);
        // The reference rounds to 10 digits; A1111 hands the multipliers to torch as float32.
        expect(Array.from(chunk.multipliers)).toEqual(expected?.multipliers.map((m) => Math.fround(m)));
      });
    });
  }

  it('pads with 0 after the first end token for OpenCLIP-style encoders', () => {
    for (const c of reference.cases) {
      const expected = c.chunks.map(({ ids }) => ids.map((id, i) => (i > ids.indexOf(EOS) ? 0 : id)));
      const byPadId = chunkPrompt(tokenizer, c.text, { padId: 0 }).map(({ ids }) => Array.from(ids));
      const byFlag = chunkPrompt(tokenizer, c.text, { padId: EOS, zeroPadAfterEnd: true }).map(({ ids }) =>
        Array.from(ids),
      );
      expect(byPadId).toEqual(expected);
      expect(byFlag).toEqual(expected);
    }
  });

  it('gives an empty prompt one chunk, like a prompt without text', () => {
    const empty = reference.cases.find((c) => c.text === '[]');
    const chunks = chunkPrompt(tokenizer, '', { padId: EOS });
    expect(chunks.map(({ ids }) => Array.from(ids))).toEqual(empty?.chunks.map(({ ids }) => ids));
  });
});

describe('countPromptTokens', () => {
  // A1111 counts 75 for every chunk but the last, and the real tokens of the last one.
  for (const c of reference.cases) {
    it(`counts ${label(c.text)}`, () => {
      const last = c.chunks.at(-1)?.ids ?? [];
      const tokens = 75 * (c.chunks.length - 1) + last.indexOf(EOS) - 1;
      expect(countPromptTokens(tokenizer, c.text)).toEqual({ tokens, limit: 75 * Math.max(1, Math.ceil(tokens / 75)) });
    });
  }
});
