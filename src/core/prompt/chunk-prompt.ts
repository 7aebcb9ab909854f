/**
 * AUTOMATIC1111's long-prompt handling at the token level, as
 * `FrozenCLIPEmbedderWithCustomWordsBase.tokenize_line` in modules/sd_hijack_clip.py does it with
 * default settings (comma padding backtrack 20, new emphasis implementation, no textual-inversion
 * embeddings): 75 prompt tokens per 77-slot chunk, per-token emphasis multipliers, `BREAK`.
 */
import type { ClipTokenizer } from '../tokenizer/clip-tokenizer.ts';
import { parsePromptAttention } from './parse-attention.ts';

/** One text-encoder input of a prompt and the emphasis to apply to its output. */
export interface PromptChunk {
  /** Int32Array [77]: BOS, 75 prompt or filler tokens, EOS. */
  ids: Int32Array;
  /** Float32Array [77]: emphasis weight per token; 1 for BOS, EOS and filler. */
  multipliers: Float32Array;
}

export interface ChunkPromptOptions {
  /**
   * Id for every slot after a chunk's first end token. A1111 fills chunks with the end token
   * (SD 1.x: pad = end = 49407); pass the model's pad id (`padTokenId`), e.g. 0 for SD 2.x.
   */
  padId: number;
  /**
   * A1111's OpenCLIP rule (SD 2.x, SDXL's second encoder): ids after the first end token become
   * 0, whatever `padId` says. Equivalent to `padId: 0`.
   */
  zeroPadAfterEnd?: boolean;
}

/** Prompt tokens per chunk; with BOS and EOS a chunk fills the encoder's 77 slots. */
const CHUNK_LENGTH = 75;

/**
 * A1111's `comma_padding_backtrack` default: when a chunk fills up with a comma among its last
 * 20 tokens, the words after that comma move on to the next chunk instead of being cut apart.
 */
const COMMA_BACKTRACK = 20;

interface RawChunk {
  tokens: number[];
  multipliers: number[];
}

/** A1111's `tokenize_line`: the chunks (end-token filled) and the count its UI shows. */
function tokenizeLine(tokenizer: ClipTokenizer, text: string): { chunks: RawChunk[]; tokenCount: number } {
  const comma = tokenizer.tokenId(',</w>');
  const chunks: RawChunk[] = [];
  let chunk: RawChunk = { tokens: [], multipliers: [] };
  let tokenCount = 0;
  let lastComma = -1;

  const nextChunk = (isLast: boolean): void => {
    // Only the last chunk counts its real length; earlier ones always count as full.
    tokenCount += isLast ? chunk.tokens.length : CHUNK_LENGTH;
    const fill = CHUNK_LENGTH - chunk.tokens.length;
    chunks.push({
      tokens: [tokenizer.bosId, ...chunk.tokens, ...new Array<number>(fill).fill(tokenizer.eosId), tokenizer.eosId],
      multipliers: [1, ...chunk.multipliers, ...new Array<number>(fill).fill(1), 1],
    });
    chunk = { tokens: [], multipliers: [] };
    lastComma = -1;
  };

  for (const [fragment, weight] of parsePromptAttention(text)) {
    if (fragment === 'BREAK' && weight === -1) {
      nextChunk(false);
      continue;
    }
    for (const token of tokenizer.encode(fragment)) {
      if (token === comma) {
        lastComma = chunk.tokens.length;
      } else if (
        chunk.tokens.length === CHUNK_LENGTH &&
        lastComma !== -1 &&
        chunk.tokens.length - lastComma <= COMMA_BACKTRACK
      ) {
        const breakAt = lastComma + 1;
        const moved: RawChunk = { tokens: chunk.tokens.slice(breakAt), multipliers: chunk.multipliers.slice(breakAt) };
        chunk.tokens.length = breakAt;
        chunk.multipliers.length = breakAt;
        nextChunk(false);
        chunk = moved;
      }
      if (chunk.tokens.length === CHUNK_LENGTH) nextChunk(false);
      chunk.tokens.push(token);
      chunk.multipliers.push(weight);
    }
  }
  // An empty prompt still yields one chunk (BOS, then end tokens).
  if (chunk.tokens.length > 0 || chunks.length === 0) nextChunk(true);
  return { chunks, tokenCount };
}

/**
 * Splits an A1111 prompt (emphasis syntax, `BREAK`, any length) into text-encoder chunks.
 *
 * @returns one chunk per 75 prompt tokens (at least one); the caller encodes each, scales each
 *   token's output by its multiplier (A1111 then restores the original mean) and concatenates
 *   them to `[1, 77·k, C]`
 */
export function chunkPrompt(tokenizer: ClipTokenizer, text: string, options: ChunkPromptOptions): PromptChunk[] {
  const padId = options.zeroPadAfterEnd === true ? 0 : options.padId;
  return tokenizeLine(tokenizer, text).chunks.map(({ tokens, multipliers }) => {
    const ids = Int32Array.from(tokens);
    // A1111 pads after the first end token, which is earlier than slot 76 whenever the chunk is
    // not full (or the prompt itself contains <|endoftext|>).
    if (padId !== tokenizer.eosId) ids.fill(padId, ids.indexOf(tokenizer.eosId) + 1);
    return { ids, multipliers: Float32Array.from(multipliers) };
  });
}

/**
 * The live token counter of A1111's prompt box, e.g. `{ tokens: 31, limit: 75 }` shown as
 * "31/75", or 80/150 once the prompt needs a second chunk. Full earlier chunks count 75 each
 * (so `BREAK` and comma backtracking raise the count); `limit` is the next multiple of 75.
 */
export function countPromptTokens(tokenizer: ClipTokenizer, text: string): { tokens: number; limit: number } {
  const { tokenCount } = tokenizeLine(tokenizer, text);
  return { tokens: tokenCount, limit: Math.ceil(Math.max(tokenCount, 1) / CHUNK_LENGTH) * CHUNK_LENGTH };
}
