import { readFile } from 'node:fs/promises';
import { SdError } from '../core/errors.ts';
import { assumedPad, isTurboName, tokenizerLine } from '../core/models/model-assumptions.ts';
import { chunkPrompt } from '../core/prompt/chunk-prompt.ts';
import { parsePromptAttention } from '../core/prompt/parse-attention.ts';
import { ClipTokenizer } from '../core/tokenizer/clip-tokenizer.ts';
import { padTokenId } from '../core/tokenizer/pad-token.ts';
import { parseArgs, requiredArg } from './args.ts';
import { BUNDLED_MERGES } from './bundled.ts';
import { folderModelFiles } from './fs-model-files.ts';

/** `parse-prompt --prompt TEXT`: A1111's emphasis parse as JSON `[[text, weight], ...]`. */
export async function parsePromptCommand(argv: readonly string[]): Promise<void> {
  const args = parseArgs(argv, 'parse-prompt', ['prompt']);
  const prompt = requiredArg(args, 'prompt', 'the prompt text to parse');
  process.stdout.write(JSON.stringify(parsePromptAttention(prompt)) + '\n');
}

/**
 * The model's first tokenizer and its pad id, without creating any inference session. Without
 * tokenizer files: the bundled one, padded as the model's name suggests (reported to stderr).
 */
async function modelTokenizer(dir: string): Promise<{ tokenizer: ClipTokenizer; padId: number }> {
  const files = folderModelFiles(dir);
  const text = async (path: string): Promise<string | undefined> =>
    (await files.exists(path)) ? files.readText(path) : undefined;
  const vocab = await text('tokenizer/vocab.json');
  const merges = await text('tokenizer/merges.txt');
  const tokenizer =
    vocab !== undefined && merges !== undefined
      ? ClipTokenizer.fromFiles(vocab, merges)
      : ClipTokenizer.fromMerges(await readFile(BUNDLED_MERGES, 'utf8'));
  const special = await text('tokenizer/special_tokens_map.json');
  const config = await text('tokenizer/tokenizer_config.json');
  if (special !== undefined || config !== undefined)
    return { tokenizer, padId: padTokenId(tokenizer, special, config) };
  // no session here to read the hidden size from: the name decides (SD-Turbo pads with "!")
  const pad = assumedPad({ hiddenSize: undefined, isSecond: false, isXl: false, isTurbo: isTurboName(files.label) });
  process.stderr.write(
    `assumed: ${tokenizerLine('tokenizer', vocab === undefined || merges === undefined, pad.padId, pad.why)}\n`,
  );
  return { tokenizer, padId: pad.padId };
}

/**
 * `tokens --model DIR --prompt TEXT [--raw]`: the A1111 chunks `[{ids, multipliers}]` the prompt
 * becomes for this model's tokenizer; `--raw`: diffusers' plain 77-token tokenisation.
 */
export async function tokensCommand(argv: readonly string[]): Promise<void> {
  const args = parseArgs(argv, 'tokens', ['model', 'prompt'], ['raw']);
  const dir = requiredArg(args, 'model', 'a model folder in the diffusers ONNX layout');
  const prompt = requiredArg(args, 'prompt', 'the prompt text to tokenize');
  const { tokenizer, padId } = await modelTokenizer(dir);
  if (args.has('raw')) {
    process.stdout.write(JSON.stringify({ ids: Array.from(tokenizer.tokenize77(prompt, padId)) }) + '\n');
    return;
  }
  const chunks = chunkPrompt(tokenizer, prompt, { padId, zeroPadAfterEnd: padId === 0 });
  if (chunks.length === 0) throw new SdError('internal', 'The prompt produced no chunks.');
  process.stdout.write(
    JSON.stringify(chunks.map((c) => ({ ids: Array.from(c.ids), multipliers: Array.from(c.multipliers) }))) + '\n',
  );
}
