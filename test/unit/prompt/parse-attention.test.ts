import { describe, expect, it } from 'vitest';
import { parsePromptAttention } from '../../../src/core/prompt/parse-attention.ts';
import { readReferenceJson } from '../../fixtures.ts';

interface ParseCase {
  text: string;
  parsed: Array<[string, number]>;
}

const reference = readReferenceJson<{ cases: ParseCase[] }>('a1111_parse.json');

describe('parsePromptAttention against A1111', () => {
  for (const c of reference.cases) {
    it(`parses ${JSON.stringify(c.text)}`, () => {
      // toEqual compares the float64 weights exactly: the products must equal Python's bit for bit.
      expect(parsePromptAttention(c.text)).toEqual(c.parsed);
    });
  }
});

// Expected values below are what A1111's parse_prompt_attention returns when run in Python 3.
describe('parsePromptAttention beyond the reference file', () => {
  it('keeps escaped brackets and backslashes as literal text', () => {
    // A1111's own doctest: \(literal\] -> [['(literal]', 1.0]]
    expect(parsePromptAttention('\\(literal\\]')).toEqual([['(literal]', 1]]);
    expect(parsePromptAttention('a \\\\ b')).toEqual([['a \\ b', 1]]);
  });

  it("matches A1111's documented nesting example", () => {
    // The doctest of parse_prompt_attention, weights as Python prints them.
    expect(parsePromptAttention('a (((house:1.3)) [on] a (hill:0.5), sun, (((sky))).')).toEqual([
      ['a ', 1.0],
      ['house', 1.5730000000000004],
      [' ', 1.1],
      ['on', 1.0],
      [' a ', 1.1],
      ['hill', 0.55],
      [', sun, ', 1.1],
      ['sky', 1.4641000000000006],
      ['.', 1.1],
    ]);
  });

  it('splits BREAK only as a whole word and swallows the spaces around it', () => {
    expect(parsePromptAttention('a BREAK b')).toEqual([['a', 1], ['BREAK', -1], ['b', 1]]);
    expect(parsePromptAttention('aBREAK b BREAKs')).toEqual([['aBREAK b BREAKs', 1]]);
    // Python's \b is Unicode-aware: a CJK letter before BREAK is a word character.
    expect(parsePromptAttention('猫BREAK')).toEqual([['猫BREAK', 1]]);
    expect(parsePromptAttention('a_BREAK')).toEqual([['a_BREAK', 1]]);
    // Python's \s includes ideographic space and the line separator.
    expect(parsePromptAttention('x\u3000BREAK\u2028y')).toEqual([['x', 1], ['BREAK', -1], ['y', 1]]);
  });

  it('scales a BREAK inside brackets, which then no longer breaks', () => {
    expect(parsePromptAttention('(a BREAK b)')).toEqual([['a', 1.1], ['BREAK', -1.1], ['b', 1.1]]);
  });

  // A1111 raises ValueError here; this port's documented choice instead.
  it('treats a weight Python cannot parse as text closed by a plain round bracket', () => {
    expect(parsePromptAttention('(x:1.2.3)')).toEqual([['x:1.2.3', 1.1]]);
  });

  it('reads non-ASCII decimal digits in weights as Python float() does', () => {
    expect(parsePromptAttention('(x:١.٥)')).toEqual([['x', 1.5]]);
  });
});
