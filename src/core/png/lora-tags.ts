// A1111's extra-network prompt syntax for LoRA (modules/extra_networks.py reads `<name:arg:arg...>`; the
// Lora extension takes the first argument as the text-encoder multiplier and the second, when present, as
// the UNet multiplier, both defaulting to 1, and also accepts `te=`/`unet=` named arguments).

/** One `<lora:NAME:TE[:UNET]>` tag of a prompt. */
export interface LoraTag {
  name: string;
  /** Text-encoder multiplier; null when the tag's value is not a number. */
  te: number | null;
  /** UNet multiplier: the second value, else the text-encoder one. */
  unet: number | null;
}

/** A1111's `re_extra_net`, `<(\w+):([^>]+)>`, restricted to the `lora` network. */
const LORA_TAG = /<lora:([^>]+)>/gu;
const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

function multiplier(text: string | undefined): number | null {
  if (text === undefined) return 1;
  const trimmed = text.trim();
  return NUMBER.test(trimmed) ? Number(trimmed) : null;
}

/**
 * The LoRA tags of a prompt, in order. The tags stay in the prompt text; this only lists them.
 * Never throws: a multiplier that is not a number comes back as null.
 */
export function loraTags(prompt: string): LoraTag[] {
  const tags: LoraTag[] = [];
  for (const m of prompt.matchAll(LORA_TAG)) {
    const [name = '', ...args] = m[1]!.split(':');
    const named = new Map<string, string>();
    const positional: string[] = [];
    for (const arg of args) {
      const eq = arg.indexOf('=');
      if (eq > 0) named.set(arg.slice(0, eq).trim(), arg.slice(eq + 1));
      else positional.push(arg);
    }
    const te = multiplier(named.get('te') ?? positional[0]);
    const unetText = named.get('unet') ?? positional[1];
    tags.push({ name: name.trim(), te, unet: unetText === undefined ? te : multiplier(unetText) });
  }
  return tags;
}

/**
 * The prompt as the text encoder sees it: every `<lora:…>` tag removed (replaced by nothing, as
 * A1111's `extra_networks.parse_prompt` does; the spaces around it stay). The request keeps the tags
 * so the infotext records them.
 */
export function removeLoraTags(prompt: string): string {
  return prompt.replace(LORA_TAG, '');
}
