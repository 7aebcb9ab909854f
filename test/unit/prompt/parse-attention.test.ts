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
    expect(parsePromptAttention('a BREAK b')).toEqual([
      ['a', 1],
      ['BREAK', -1],
      ['b', 1],
    ]);
    expect(parsePromptAttention('aBREAK b BREAKs')).toEqual([['aBREAK b BREAKs', 1]]);
    // Python's \b is Unicode-aware: a CJK letter before BREAK is a word character.
    expect(parsePromptAttention('猫BREAK')).toEqual([['猫BREAK', 1]]);
    expect(parsePromptAttention('a_BREAK')).toEqual([['a_BREAK', 1]]);
    // Python's \s includes ideographic space and the line separator.
    expect(parsePromptAttention('x\u3000BREAK\u2028y')).toEqual([
      ['x', 1],
      ['BREAK', -1],
      ['y', 1],
    ]);
  });

  it('scales a BREAK inside brackets, which then no longer breaks', () => {
    expect(parsePromptAttention('(a BREAK b)')).toEqual([
      ['a', 1.1],
      ['BREAK', -1.1],
      ['b', 1.1],
    ]);
  });

  // A1111 raises ValueError here; this port's documented choice instead.
  it('treats a weight Python cannot parse as text closed by a plain round bracket', () => {
    expect(parsePromptAttention('(x:1.2.3)')).toEqual([['x:1.2.3', 1.1]]);
  });

  it('reads non-ASCII decimal digits in weights as Python float() does', () => {
    expect(parsePromptAttention('(x:١.٥)')).toEqual([['x', 1.5]]);
  });
});

// Each expectation below is the output of A1111's parse_prompt_attention (modules/prompt_parser.py,
// whose weight pattern is `:\s*([+-]?[.\d]+)\s*\)`) run in Python 3.11 on the same text.
describe('parsePromptAttention on the rules of A1111 weight syntax', () => {
  const cases: Array<[string, Array<[string, number]>]> = [
    // Whitespace around the number is allowed; before the colon it stays part of the text.
    ['(b: 0.5 )', [['b', 0.5]]],
    ['(a : 1.5)', [['a ', 1.5]]],
    ['(a:\t1.2\n)', [['a', 1.2]]],
    ['(a:\u30001.5\u3000)', [['a', 1.5]]],
    ['(x:١.٥ )', [['x', 1.5]]],
    // U+FEFF is whitespace to JavaScript's \s but not to Python's.
    ['(a:\ufeff1.5)', [['a:\ufeff1.5', 1.1]]],
    // Signs and bare dots are accepted, exponents are not.
    ['(a:-1)', [['a', -1]]],
    ['(a:+.5)', [['a', 0.5]]],
    ['(a:1.)', [['a', 1]]],
    ['(a:-0)', [['a', -0]]],
    ['(a:1e2)', [['a:1e2', 1.1]]],
    // A colon without a number is text, and the bracket closes as a plain one.
    ['(a:b)', [['a:b', 1.1]]],
    ['(a:)', [['a:', 1.1]]],
    [
      '(a:0.5 ) (b:',
      [
        ['a', 0.5],
        [' ', 1],
        ['b:', 1.1],
      ],
    ],
    // `:w)` with no open round bracket is plain text.
    ['a:1.2) b', [['a:1.2) b', 1]]],
    // Prompt editing is not this function's business: `[a:b:0.5]` is text under a square bracket.
    ['[a:b:0.5]', [['a:b:0.5', 0.9090909090909091]]],
    ['[a: 0.5 ]', [['a: 0.5 ', 0.9090909090909091]]],
    [
      '(a [b:c:0.5] d:2)',
      [
        ['a ', 2],
        ['b:c:0.5', 1.8181818181818181],
        [' d', 2],
      ],
    ],
    ['((a:2):3)', [['a', 6]]],
    // Crossed and stray brackets.
    [
      '(a[b)c]',
      [
        ['a', 1.1],
        ['b', 1],
        ['c', 0.9090909090909091],
      ],
    ],
    [')]a[(', [[')]a', 1]]],
    // A lone backslash disappears; the character after it is ordinary.
    ['\\a\\', [['a', 1]]],
    // Only adjacent runs of equal weight merge.
    ['(a:1.5)(b:1.5)', [['ab', 1.5]]],
    [
      '(a:1.5) (b:1.5)',
      [
        ['a', 1.5],
        [' ', 1],
        ['b', 1.5],
      ],
    ],
    // BREAK leaves the text around it, even when empty.
    [
      'BREAK',
      [
        ['', 1],
        ['BREAK', -1],
        ['', 1],
      ],
    ],
    [
      'a BREAK BREAK b',
      [
        ['a', 1],
        ['BREAK', -1],
        ['', 1],
        ['BREAK', -1],
        ['b', 1],
      ],
    ],
    [
      '(BREAK)',
      [
        ['', 1.1],
        ['BREAK', -1.1],
        ['', 1.1],
      ],
    ],
    // Weight 0 makes BREAK's -0 equal to its neighbours' 0, so all three merge.
    ['(a BREAK b:0)', [['aBREAKb', 0]]],
  ];
  for (const [text, expected] of cases) {
    it(`parses ${JSON.stringify(text)}`, () => {
      expect(parsePromptAttention(text)).toEqual(expected);
    });
  }

  // A1111 raises ValueError; like `(x:1.2.3)` above, the weight text stays, whitespace included.
  it('keeps an unparseable spaced weight as text', () => {
    expect(parsePromptAttention('(x: . )')).toEqual([['x: . ', 1.1]]);
  });
});
