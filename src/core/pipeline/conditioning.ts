import type { InferenceSession } from 'onnxruntime-common';
import { chunkPrompt, type PromptChunk } from '../prompt/chunk-prompt.ts';
import type { LoadedModel, TextEncoder } from '../models/load-model.ts';
import type { Runtime } from '../runtime/runtime.ts';
import { idsTensor, readFloats } from '../runtime/tensor-data.ts';

/**
 * How prompt text becomes conditioning:
 * - `a1111`: AUTOMATIC1111 emphasis `(x:1.2)`, `BREAK`, prompts longer than 75 tokens in chunks;
 * - `diffusers`: the text as diffusers tokenises it (truncated to 77 tokens, brackets are plain text).
 * Both agree for prompts up to 75 tokens without emphasis syntax.
 */
export type PromptSyntax = 'a1111' | 'diffusers';

/** Text conditioning for one prompt. */
export interface Conditioning {
  /** Float32Array [1, tokens, hiddenSize]: chunks of 77 tokens concatenated. */
  hidden: Float32Array;
  tokens: number;
  hiddenSize: number;
  /** SDXL: pooled text embedding of the second encoder, Float32Array [1, pooledSize]. */
  pooled?: Float32Array;
}

function chunksFor(encoder: TextEncoder, text: string, syntax: PromptSyntax): PromptChunk[] {
  if (syntax === 'a1111')
    return chunkPrompt(encoder.tokenizer, text, { padId: encoder.padId, zeroPadAfterEnd: encoder.padId === 0 });
  return [{ ids: encoder.tokenizer.tokenize77(text, encoder.padId), multipliers: new Float32Array(77).fill(1) }];
}

/**
 * AUTOMATIC1111's emphasis: scale each token's embedding by its multiplier, then rescale the whole
 * chunk so its mean equals the mean before scaling.
 */
function applyEmphasis(z: Float32Array, multipliers: Float32Array, hiddenSize: number): void {
  if (multipliers.every((m) => m === 1)) return;
  let before = 0;
  for (const v of z) before += v;
  let after = 0;
  for (let t = 0; t < multipliers.length; t++) {
    const m = multipliers[t] as number;
    for (let d = t * hiddenSize; d < (t + 1) * hiddenSize; d++) {
      const v = Math.fround((z[d] as number) * m);
      z[d] = v;
      after += v;
    }
  }
  const scale = Math.fround(Math.fround(before / z.length) / Math.fround(after / z.length));
  for (let i = 0; i < z.length; i++) z[i] = Math.fround((z[i] as number) * scale);
}

/**
 * Output names to read from a text encoder: the hidden state the pipeline conditions on, and the pooled
 * output. SDXL takes the penultimate layer without the final layer norm (diffusers' `hidden_states[-2]`,
 * A1111's "penultimate"); SD 1.x/2.x take `last_hidden_state` (SD 2.x exports already drop the last layer).
 * The contract guarantees whichever is needed exists.
 */
function outputNames(encoder: TextEncoder, isXl: boolean): { hidden: string; pooled: string | undefined } {
  const { contract } = encoder;
  const info = isXl ? contract.hiddenStates[contract.hiddenStates.length - 2] : contract.lastHiddenState;
  return { hidden: info?.name ?? 'last_hidden_state', pooled: contract.pooled?.name };
}

async function runEncoder(
  runtime: Runtime,
  session: InferenceSession,
  encoder: TextEncoder,
  ids: Int32Array,
  names: { hidden: string; pooled: string | undefined },
): Promise<{ hidden: Float32Array; pooled: Float32Array | undefined }> {
  const feeds = {
    [encoder.contract.inputIds.name]: idsTensor(runtime, encoder.contract.inputIds.type, ids, [1, ids.length]),
  };
  const fetches = names.pooled ? [names.hidden, names.pooled] : [names.hidden];
  const out = await session.run(feeds, fetches);
  const hidden = await readFloats(out[names.hidden]!);
  const pooled = names.pooled ? await readFloats(out[names.pooled]!) : undefined;
  for (const t of Object.values(out)) t.dispose();
  return { hidden: hidden.slice(), pooled: pooled?.slice() };
}

/** Encodes one prompt with every text encoder of the model (two for SDXL, features concatenated). */
export async function encodePrompt(
  model: LoadedModel,
  runtime: Runtime,
  text: string,
  syntax: PromptSyntax,
): Promise<Conditioning> {
  const isXl = model.family === 'sdxl';
  const perEncoder: { chunks: Float32Array[]; size: number; pooled?: Float32Array }[] = [];
  for (const encoder of model.textEncoders) {
    const names = outputNames(encoder, isXl);
    const chunks: Float32Array[] = [];
    let pooled: Float32Array | undefined;
    let size = 0;
    for (const chunk of chunksFor(encoder, text, syntax)) {
      const out = await runEncoder(runtime, encoder.session, encoder, chunk.ids, names);
      size = out.hidden.length / chunk.ids.length;
      applyEmphasis(out.hidden, chunk.multipliers, size);
      chunks.push(out.hidden);
      // pooled output comes from the first chunk, as in A1111
      pooled ??= out.pooled;
    }
    perEncoder.push({ chunks, size, pooled });
  }
  const chunkCount = Math.max(...perEncoder.map((e) => e.chunks.length));
  const hiddenSize = perEncoder.reduce((s, e) => s + e.size, 0);
  const tokens = chunkCount * 77;
  const hidden = new Float32Array(tokens * hiddenSize);
  let offset = 0;
  for (const enc of perEncoder) {
    for (let c = 0; c < chunkCount; c++) {
      const src = enc.chunks[Math.min(c, enc.chunks.length - 1)]!;
      for (let t = 0; t < 77; t++) {
        hidden.set(src.subarray(t * enc.size, (t + 1) * enc.size), (c * 77 + t) * hiddenSize + offset);
      }
    }
    offset += enc.size;
  }
  const last = perEncoder[perEncoder.length - 1];
  return { hidden, tokens, hiddenSize, pooled: isXl ? last?.pooled : undefined };
}

/** Zero conditioning of the same shape (SDXL's `force_zeros_for_empty_prompt`). */
export function zerosLike(c: Conditioning): Conditioning {
  return {
    hidden: new Float32Array(c.hidden.length),
    tokens: c.tokens,
    hiddenSize: c.hiddenSize,
    pooled: c.pooled && new Float32Array(c.pooled.length),
  };
}
