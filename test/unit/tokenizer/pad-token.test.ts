import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ClipTokenizer } from '../../../src/core/tokenizer/clip-tokenizer.ts';
import { padTokenId } from '../../../src/core/tokenizer/pad-token.ts';
import { MODELS } from '../../fixtures.ts';

const read = (folder: string, name: string): string => readFileSync(resolve(MODELS, folder, name), 'utf8');
const tokenizer = ClipTokenizer.fromFiles(
  read('tiny-sd15/tokenizer', 'vocab.json'),
  read('tiny-sd15/tokenizer', 'merges.txt'),
);

describe('padTokenId', () => {
  // Pad ids as the fixtures README documents each model folder.
  const expected: Array<[string, number]> = [
    ['tiny-sd15/tokenizer', 49407],
    ['tiny-sd-turbo/tokenizer', 0],
    ['tiny-sd2-v/tokenizer', 0],
    ['tiny-sdxl/tokenizer', 49407],
    ['tiny-sdxl/tokenizer_2', 0],
  ];
  for (const [folder, id] of expected) {
    it(`reads ${folder}`, () => {
      const special = read(folder, 'special_tokens_map.json');
      const config = read(folder, 'tokenizer_config.json');
      expect(padTokenId(tokenizer, special, config)).toBe(id);
      expect(padTokenId(tokenizer, special)).toBe(id);
      expect(padTokenId(tokenizer, undefined, config)).toBe(id);
    });
  }

  it('lets special_tokens_map.json win over tokenizer_config.json', () => {
    expect(padTokenId(tokenizer, '{"pad_token": "!"}', '{"pad_token": "<|endoftext|>"}')).toBe(0);
  });

  it('reads the AddedToken object form', () => {
    expect(padTokenId(tokenizer, '{"pad_token": {"content": "!", "lstrip": false, "normalized": false}}')).toBe(0);
  });

  it("falls back to CLIPTokenizer's default, <|endoftext|>", () => {
    expect(padTokenId(tokenizer, '{"bos_token": "<|startoftext|>"}')).toBe(49407);
    expect(padTokenId(tokenizer)).toBe(49407);
  });
});
