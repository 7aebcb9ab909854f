/** Which id a model's tokenizer pads with, read from its Hugging Face tokenizer config files. */
import { SdError } from '../errors.ts';
import type { ClipTokenizer } from './clip-tokenizer.ts';

/** CLIPTokenizer's own default when no file names a pad token. */
const DEFAULT_PAD_TOKEN = '<|endoftext|>';

/**
 * The `pad_token` of one config file: a plain string, or an AddedToken object (`{ "content": … }`)
 * as newer transformers versions write it. Undefined when the file does not set one.
 */
function readPadToken(json: string | undefined, fileName: string): string | undefined {
  if (json === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (cause) {
    throw new SdError('unsupported-model', `${fileName} is not valid JSON. Check the model's tokenizer folder.`, {
      cause,
    });
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const pad: unknown = (parsed as Record<string, unknown>)['pad_token'];
  if (typeof pad === 'string') return pad;
  if (typeof pad === 'object' && pad !== null) {
    const content: unknown = (pad as Record<string, unknown>)['content'];
    if (typeof content === 'string') return content;
  }
  return undefined;
}

/**
 * The id a model pads its prompts with: `<|endoftext|>` (49407) for SD 1.x and SDXL's first
 * tokenizer, `!` (0) for SD 2.x, SD-Turbo and SDXL's `tokenizer_2`.
 *
 * `special_tokens_map.json` wins over `tokenizer_config.json`, as it does when transformers loads
 * a tokenizer; with neither naming a pad token the result is CLIPTokenizer's default, EOS.
 *
 * @param specialTokensMapJson contents of `tokenizer/special_tokens_map.json`, if the model has it
 * @param tokenizerConfigJson contents of `tokenizer/tokenizer_config.json`, if the model has it
 */
export function padTokenId(
  tokenizer: ClipTokenizer,
  specialTokensMapJson?: string,
  tokenizerConfigJson?: string,
): number {
  const token =
    readPadToken(specialTokensMapJson, 'special_tokens_map.json') ??
    readPadToken(tokenizerConfigJson, 'tokenizer_config.json') ??
    DEFAULT_PAD_TOKEN;
  const id = tokenizer.tokenId(token);
  if (id === undefined) {
    throw new SdError(
      'unsupported-model',
      `The model's pad_token "${token}" is not in its CLIP vocabulary. ` +
        'Expected "<|endoftext|>" or "!"; check tokenizer/special_tokens_map.json.',
    );
  }
  return id;
}
