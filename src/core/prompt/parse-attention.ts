/**
 * AUTOMATIC1111's emphasis syntax, as `parse_prompt_attention` in modules/prompt_parser.py reads
 * it: `(x)` ×1.1, `[x]` ÷1.1, `(x:w)` ×w, nesting multiplies, unclosed brackets run to the end,
 * `\(` `\)` `\[` `\]` `\\` are literals, and a free-standing `BREAK` starts a new chunk.
 */

/** One weighted piece of a prompt. `BREAK` comes out as `["BREAK", -1]`. */
export type AttentionFragment = [text: string, weight: number];

const ROUND_MULTIPLIER = 1.1;
const SQUARE_MULTIPLIER = 1 / 1.1;

/**
 * Python's `\s` (str.isspace), as a character class body; JavaScript's `\s` is a different set
 * (it has U+FEFF, Python has U+001C to U+001F and U+0085).
 */
const PY_SPACE = '\\t-\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';

/**
 * A1111's tokens, tried in this order at each position: escapes, a lone backslash, openers,
 * `:weight)` (whitespace allowed on both sides of the number), closers, plain text, a lone colon.
 * Every character belongs to some token, so the matches tile the text. Python's `\d` is any
 * Unicode decimal digit, hence `\p{Nd}`. No exponent: `(a:1e2)` is text.
 */
const ATTENTION_TOKEN = new RegExp(
  String.raw`\\\(|\\\)|\\\[|\\\]|\\\\|\\|\(|\[|:[${PY_SPACE}]*([+-]?[.\p{Nd}]+)[${PY_SPACE}]*\)|\)|\]|[^\\()[\]:]+|:`,
  'gu',
);

/**
 * `\s*\bBREAK\b\s*` with Python's Unicode word boundary: letters, digits and `_` are word
 * characters there, while JavaScript's `\b` only knows ASCII.
 */
const BREAK_SEPARATOR = new RegExp(`[${PY_SPACE}]*(?<![\\p{L}\\p{N}_])BREAK(?![\\p{L}\\p{N}_])[${PY_SPACE}]*`, 'u');

const DECIMAL_DIGIT = /\p{Nd}/u;

/**
 * Value of a Unicode decimal digit. Unicode lays every decimal digit set out as ten consecutive
 * code points from 0 to 9, and adjacent sets abut, so the offset from the start of the run of
 * consecutive digits, modulo 10, is the value.
 */
function digitValue(digit: string): number {
  const cp = digit.codePointAt(0) ?? 0;
  let start = cp;
  while (start > 0 && DECIMAL_DIGIT.test(String.fromCodePoint(start - 1))) start--;
  return (cp - start) % 10;
}

/** Python's `float()` on the weight text (`[+-]?[.\d]+`); undefined where Python would raise. */
function parseWeight(weight: string): number | undefined {
  const ascii = weight.replace(/\p{Nd}/gu, (digit) =>
    digit >= '0' && digit <= '9' ? digit : String(digitValue(digit)),
  );
  return /^[+-]?(?:\d+\.?\d*|\.\d+)$/.test(ascii) ? Number(ascii) : undefined;
}

/**
 * Splits an A1111 prompt into text fragments with their attention weights.
 *
 * Weights are float64 products computed in A1111's order, so they equal Python's to the bit
 * (`((x))` gives 1.2100000000000002). Adjacent fragments with equal weights are merged; a prompt
 * with no text gives `[["", 1]]`. A `BREAK` inside brackets is scaled like its neighbours and so
 * stops being a break (weight no longer -1), exactly as in A1111.
 *
 * Where A1111 would crash, on a weight Python cannot parse such as `(x:1.2.3)` or `(x:.)`, the
 * weight text (with its colon and any whitespace) is kept as literal text and the `)` closes the
 * bracket with the default ×1.1.
 */
export function parsePromptAttention(text: string): AttentionFragment[] {
  const res: AttentionFragment[] = [];
  const roundOpen: number[] = [];
  const squareOpen: number[] = [];

  const multiplyFrom = (start: number, multiplier: number): void => {
    for (let p = start; p < res.length; p++) {
      const fragment = res[p];
      if (fragment) fragment[1] *= multiplier;
    }
  };
  const pushText = (piece: string): void => {
    piece.split(BREAK_SEPARATOR).forEach((part, i) => {
      if (i > 0) res.push(['BREAK', -1]);
      res.push([part, 1.0]);
    });
  };

  for (const match of text.matchAll(ATTENTION_TOKEN)) {
    const token = match[0];
    const weight = match[1];
    const roundStart = roundOpen.at(-1);
    const squareStart = squareOpen.at(-1);
    if (token.startsWith('\\')) {
      res.push([token.slice(1), 1.0]);
    } else if (token === '(') {
      roundOpen.push(res.length);
    } else if (token === '[') {
      squareOpen.push(res.length);
    } else if (weight !== undefined && roundStart !== undefined) {
      roundOpen.pop();
      const value = parseWeight(weight);
      if (value === undefined) pushText(token.slice(0, -1));
      multiplyFrom(roundStart, value ?? ROUND_MULTIPLIER);
    } else if (token === ')' && roundStart !== undefined) {
      roundOpen.pop();
      multiplyFrom(roundStart, ROUND_MULTIPLIER);
    } else if (token === ']' && squareStart !== undefined) {
      squareOpen.pop();
      multiplyFrom(squareStart, SQUARE_MULTIPLIER);
    } else {
      pushText(token);
    }
  }

  // Unclosed brackets apply to everything after them, round ones first, as in A1111.
  for (const start of roundOpen) multiplyFrom(start, ROUND_MULTIPLIER);
  for (const start of squareOpen) multiplyFrom(start, SQUARE_MULTIPLIER);

  if (res.length === 0) res.push(['', 1.0]);

  const merged: AttentionFragment[] = [];
  for (const fragment of res) {
    const last = merged.at(-1);
    if (last !== undefined && last[1] === fragment[1]) last[0] += fragment[0];
    else merged.push(fragment);
  }
  return merged;
}
