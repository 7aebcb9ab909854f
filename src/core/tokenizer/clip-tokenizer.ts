/**
 * CLIP's byte-level BPE tokenizer for Stable Diffusion prompts, giving the ids transformers gives.
 *
 * transformers has three text cleanups for CLIP: the slow `CLIPTokenizer` with ftfy (fixes text,
 * decodes HTML entities), the slow one without ftfy (BERT's BasicTokenizer: drops control
 * characters, puts spaces around CJK ideographs) and `CLIPTokenizerFast` (NFC, whitespace runs to
 * one space, lowercase). The reference ids keep `&amp;` literal and keep `東京` in one word, which
 * only the fast cleanup does, so that is the one reproduced here.
 */
import { SdError } from '../errors.ts';

const BOS_TOKEN = '<|startoftext|>';
const EOS_TOKEN = '<|endoftext|>';
const WORD_END = '</w>';

/** CLIP keeps 49152 - 256 - 2 merges after the header line; any further lines are ignored. */
const MAX_MERGES = 49152 - 256 - 2;

/** Token slots of one text-encoder input: BOS, up to 75 prompt tokens, EOS, padding. */
export const CLIP_SEQUENCE_LENGTH = 77;

/**
 * Special tokens are cut out of the raw text first, case-sensitively, as the tokenizer's added
 * vocabulary does; the capture group keeps them in `split`'s output at the odd indices.
 */
const SPECIAL_SPLIT = /(<\|startoftext\|>|<\|endoftext\|>)/;

/**
 * Unicode White_Space, which is what `\s` means in the tokenizers library's regex engine
 * (JavaScript's `\s` differs: it adds U+FEFF and lacks U+0085).
 */
const SPACE = '\\t-\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const SPACE_RUN = new RegExp(`[${SPACE}]+`, 'gu');

/**
 * CLIP's pre-tokeniser: English contractions, runs of letters, single digits, runs of anything
 * else that is not whitespace. Whatever no alternative matches (whitespace) is dropped.
 */
const PRE_TOKEN = new RegExp(`'s|'t|'re|'ve|'m|'ll|'d|\\p{L}+|\\p{N}|[^${SPACE}\\p{L}\\p{N}]+`, 'gu');

/**
 * The fast tokenizer's normaliser: NFC, whitespace runs to one space, then lowercase character by
 * character. Lowercasing per character means a capital sigma always becomes `σ`, never the final
 * form `ς` that `String.prototype.toLowerCase` picks at the end of a word, hence the pre-step.
 */
function normalize(text: string): string {
  return text
    .normalize('NFC')
    .replace(SPACE_RUN, ' ')
    .replace(/\u03a3/g, '\u03c3')
    .toLowerCase();
}

/**
 * Words seen recently, mapped to their ids. Upstream's cache is unbounded; a cap keeps a
 * long-lived page from growing without limit while still covering any realistic prompt set.
 */
const CACHE_LIMIT = 20_000;

/**
 * GPT-2/CLIP's reversible byte-to-character table, in upstream's order: the printable bytes map
 * to themselves, the other 68 to U+0100 onwards. Each entry is `[byte, character]`; the order
 * matters because CLIP's vocabulary lists the characters in it.
 */
function byteCharPairs(): Array<[number, string]> {
  const pairs: Array<[number, string]> = [];
  const isPrintable = (b: number): boolean =>
    (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  for (let b = 0; b < 256; b++) if (isPrintable(b)) pairs.push([b, String.fromCharCode(b)]);
  let next = 256;
  for (let b = 0; b < 256; b++) if (!isPrintable(b)) pairs.push([b, String.fromCharCode(next++)]);
  return pairs;
}

const BYTE_CHAR_PAIRS = byteCharPairs();

/** `BYTE_CHARS.charAt(b)` is the character for byte `b` (all are single UTF-16 units). */
const BYTE_CHARS = [...BYTE_CHAR_PAIRS]
  .sort(([a], [b]) => a - b)
  .map(([, ch]) => ch)
  .join('');

/** UTF-8 encodes `word` and spells each byte with its table character. */
function toByteChars(word: string): string {
  let out = '';
  for (const ch of word) {
    const cp = ch.codePointAt(0) ?? 0;
    if (cp < 0x80) {
      out += BYTE_CHARS.charAt(cp);
    } else if (cp < 0x800) {
      out += BYTE_CHARS.charAt(0xc0 | (cp >> 6)) + BYTE_CHARS.charAt(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
      out +=
        BYTE_CHARS.charAt(0xe0 | (cp >> 12)) +
        BYTE_CHARS.charAt(0x80 | ((cp >> 6) & 0x3f)) +
        BYTE_CHARS.charAt(0x80 | (cp & 0x3f));
    } else {
      out +=
        BYTE_CHARS.charAt(0xf0 | (cp >> 18)) +
        BYTE_CHARS.charAt(0x80 | ((cp >> 12) & 0x3f)) +
        BYTE_CHARS.charAt(0x80 | ((cp >> 6) & 0x3f)) +
        BYTE_CHARS.charAt(0x80 | (cp & 0x3f));
    }
  }
  return out;
}

/**
 * The merge lines of a `merges.txt` (`"first second"`), in rank order. The first line is skipped
 * whatever it holds, as upstream does (it is the `#version` header in every real file).
 */
function parseMerges(mergesTxt: string): string[] {
  const lines = mergesTxt
    .trim()
    .split(/\r\n?|\n/)
    .slice(1, 1 + MAX_MERGES);
  lines.forEach((line, i) => {
    const space = line.indexOf(' ');
    if (space < 1 || space === line.length - 1 || line.indexOf(' ', space + 1) !== -1) {
      throw new SdError(
        'unsupported-model',
        `merges.txt line ${i + 2} is "${line.slice(0, 40)}"; expected two symbols separated by one space. ` +
          'Use the tokenizer/merges.txt of a CLIP-based model.',
      );
    }
  });
  return lines;
}

function parseVocab(vocabJson: string): Map<string, number> {
  const fix = 'Use the tokenizer/vocab.json of a CLIP-based model.';
  let parsed: unknown;
  try {
    parsed = JSON.parse(vocabJson);
  } catch (cause) {
    throw new SdError('unsupported-model', `vocab.json is not valid JSON. ${fix}`, { cause });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new SdError('unsupported-model', `vocab.json must be an object mapping tokens to ids. ${fix}`);
  }
  const entries = parsed as Record<string, unknown>;
  const vocab = new Map<string, number>();
  // for-in over a JSON.parse result sees exactly its own keys, and is the fastest walk over ~49k.
  for (const token in entries) {
    const id = entries[token];
    if (typeof id !== 'number' || !Number.isInteger(id)) {
      throw new SdError(
        'unsupported-model',
        `vocab.json maps "${token}" to ${JSON.stringify(id)}; ids must be integers. ${fix}`,
      );
    }
    vocab.set(token, id);
  }
  return vocab;
}

/** Options shared by the factories. */
export interface ClipTokenizerOptions {
  /** The model's pad token (`pad_token` in its tokenizer config); defaults to `<|endoftext|>`. */
  padToken?: string;
}

/** CLIP BPE tokenizer: text to token ids, and the 77-slot input of a CLIP text encoder. */
export class ClipTokenizer {
  /** Id of `<|startoftext|>` (49406 in the standard vocabulary). */
  readonly bosId: number;
  /** Id of `<|endoftext|>` (49407), also the id of unknown tokens. */
  readonly eosId: number;
  /** Id of the configured pad token: 49407 for SD 1.x, 0 (`!`) for SD 2.x and SDXL's second tokenizer. */
  readonly padId: number;

  private readonly vocab: Map<string, number>;
  private readonly ranks: Map<string, number>;
  private readonly cache = new Map<string, readonly number[]>();

  private constructor(vocab: Map<string, number>, merges: string[], options: ClipTokenizerOptions) {
    this.vocab = vocab;
    this.ranks = new Map();
    // Later duplicates win, as they do when upstream builds its rank dict.
    merges.forEach((merge, rank) => this.ranks.set(merge, rank));
    this.bosId = this.requireToken(BOS_TOKEN, 'vocab.json');
    this.eosId = this.requireToken(EOS_TOKEN, 'vocab.json');
    this.padId = this.requireToken(options.padToken ?? EOS_TOKEN, 'the pad token setting');
  }

  /**
   * Builds the tokenizer from a model's `tokenizer/vocab.json` and `tokenizer/merges.txt` (file
   * contents, not paths).
   */
  static fromFiles(vocabJson: string, mergesTxt: string, options: ClipTokenizerOptions = {}): ClipTokenizer {
    return new ClipTokenizer(parseVocab(vocabJson), parseMerges(mergesTxt), options);
  }

  /**
   * Builds the tokenizer from a Hugging Face `tokenizer.json` alone (newer repositories ship no
   * vocab.json/merges.txt): its BPE `model.vocab` and `model.merges` (`"a b"` strings or `["a", "b"]` pairs).
   */
  static fromTokenizerJson(tokenizerJson: string, options: ClipTokenizerOptions = {}): ClipTokenizer {
    const fix = 'Use the tokenizer/tokenizer.json of a CLIP-based model.';
    let model: unknown;
    try {
      model = (JSON.parse(tokenizerJson) as { model?: unknown }).model;
    } catch (cause) {
      throw new SdError('unsupported-model', `tokenizer.json is not valid JSON. ${fix}`, { cause });
    }
    const { vocab, merges } = (model ?? {}) as { vocab?: unknown; merges?: unknown };
    if (typeof vocab !== 'object' || vocab === null || !Array.isArray(merges)) {
      throw new SdError('unsupported-model', `tokenizer.json has no BPE "model" with "vocab" and "merges". ${fix}`);
    }
    const lines = merges.map((m: unknown) => (Array.isArray(m) ? m.join(' ') : String(m)));
    // parseMerges skips a header line, which tokenizer.json does not have
    return new ClipTokenizer(parseVocab(JSON.stringify(vocab)), parseMerges(['#', ...lines].join('\n')), options);
  }

  /**
   * Builds the tokenizer from `merges.txt` alone, rebuilding the vocabulary the way CLIP does: the
   * 256 byte characters, the same with `</w>`, one token per merge, then BOS and EOS. For the
   * standard CLIP merges this equals the standard `vocab.json` (49408 tokens).
   */
  static fromMerges(mergesTxt: string, options: ClipTokenizerOptions = {}): ClipTokenizer {
    const merges = parseMerges(mergesTxt);
    const tokens = BYTE_CHAR_PAIRS.map(([, ch]) => ch);
    tokens.push(...tokens.map((ch) => ch + WORD_END));
    for (const merge of merges) tokens.push(merge.replace(' ', ''));
    tokens.push(BOS_TOKEN, EOS_TOKEN);
    return new ClipTokenizer(new Map(tokens.map((token, id) => [token, id])), merges, options);
  }

  /** Number of vocabulary entries (49408 for the standard CLIP vocabulary). */
  get vocabSize(): number {
    return this.vocab.size;
  }

  /** The id of a vocabulary entry (`',</w>'`, `'!'`, …), or undefined when it is not one. */
  tokenId(token: string): number | undefined {
    return this.vocab.get(token);
  }

  /**
   * Token ids of `text`, without BOS/EOS and without truncation (transformers'
   * `tokenizer(text, add_special_tokens=False)["input_ids"]`). Literal `<|startoftext|>` and
   * `<|endoftext|>` in the text become their ids.
   */
  encode(text: string): number[] {
    const ids: number[] = [];
    text.split(SPECIAL_SPLIT).forEach((part, i) => {
      if (i % 2 === 1) {
        ids.push(part === BOS_TOKEN ? this.bosId : this.eosId);
        return;
      }
      if (part === '') return;
      for (const match of normalize(part).matchAll(PRE_TOKEN)) {
        for (const id of this.bpe(toByteChars(match[0]))) ids.push(id);
      }
    });
    return ids;
  }

  /**
   * The text encoder's input for `text`, as diffusers tokenizes a prompt
   * (`max_length=77, padding="max_length", truncation=True`).
   *
   * @param padId id for the slots after EOS; defaults to this tokenizer's `padId`
   * @returns Int32Array [77]: BOS, the first 75 ids of `encode(text)`, EOS, then `padId`
   */
  tokenize77(text: string, padId: number = this.padId): Int32Array {
    const ids = this.encode(text).slice(0, CLIP_SEQUENCE_LENGTH - 2);
    const out = new Int32Array(CLIP_SEQUENCE_LENGTH).fill(padId);
    out[0] = this.bosId;
    out.set(ids, 1);
    out[ids.length + 1] = this.eosId;
    return out;
  }

  /** BPE of one pre-token already spelled in byte characters; returns its ids. */
  private bpe(chars: string): readonly number[] {
    const cached = this.cache.get(chars);
    if (cached !== undefined) return cached;

    let word = Array.from(chars);
    word[word.length - 1] += WORD_END;
    while (word.length > 1) {
      let best = -1;
      let bestRank = Infinity;
      for (let i = 0; i < word.length - 1; i++) {
        const rank = this.ranks.get(`${word[i]} ${word[i + 1]}`);
        if (rank !== undefined && rank < bestRank) {
          bestRank = rank;
          best = i;
        }
      }
      if (best < 0) break;
      const first = word[best];
      const second = word[best + 1];
      // Every non-overlapping occurrence of the best pair merges in one pass, left to right.
      const merged: string[] = [];
      for (let i = 0; i < word.length; i++) {
        const symbol = word[i] ?? '';
        if (symbol === first && i < word.length - 1 && word[i + 1] === second) {
          merged.push(first + second);
          i++;
        } else {
          merged.push(symbol);
        }
      }
      word = merged;
    }

    const ids = word.map((token) => this.vocab.get(token) ?? this.eosId);
    if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
    this.cache.set(chars, ids);
    return ids;
  }

  private requireToken(token: string, source: string): number {
    const id = this.vocab.get(token);
    if (id === undefined) {
      throw new SdError(
        'unsupported-model',
        `Token "${token}" (from ${source}) is not in the CLIP vocabulary. ` +
          'Use the tokenizer files of a CLIP-based model, or a pad token that the vocabulary contains.',
      );
    }
    return id;
  }
}
