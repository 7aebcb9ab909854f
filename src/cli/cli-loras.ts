import { existsSync, statSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { SdError } from '../core/errors.ts';
import { LoraFile } from '../core/lora/lora-file.ts';
import { loraHashesText, loraShortHash } from '../core/lora/lora-hash.ts';
import { LoraSet, type AppliedLora } from '../core/lora/lora-set.ts';
import { loraTags } from '../core/png/lora-tags.ts';
import { nodeFileByteSource, type NodeByteSource } from './node-weights-file.ts';

/** The LoRAs of one `generate`: merged at load, recorded in the infotext. */
export interface CliLoras {
  set: LoraSet;
  /** Tags to append to the prompt for `--lora` files, so the PNG records them (A1111's "add LoRA to prompt"). */
  promptSuffix: string;
  /** A1111's `Lora hashes` infotext value; undefined without LoRAs. */
  hashes: string | undefined;
  close(): Promise<void>;
}

/** Takes every `--lora FILE[:MULT[:UNET]]` (repeatable) out of `argv`: the values and the other arguments. */
export function takeLoraArgs(argv: readonly string[]): { loras: string[]; rest: string[] } {
  const loras: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg.startsWith('--lora=')) loras.push(arg.slice('--lora='.length));
    else if (arg === '--lora') {
      const value = argv[++i];
      if (value === undefined)
        throw new SdError('bad-argument', '--lora needs a value: FILE.safetensors[:MULTIPLIER].');
      loras.push(value);
    } else rest.push(arg);
  }
  return { loras, rest };
}

const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** `FILE[:MULT[:UNET]]`: the file and its text-encoder and UNet multipliers (default 1; UNet defaults to MULT). */
function parseLoraArg(value: string): { path: string; te: number; unet: number } {
  const parts = value.split(':');
  const numbers: number[] = [];
  while (parts.length > 1 && numbers.length < 2 && NUMBER.test(parts.at(-1)!.trim()))
    numbers.unshift(Number(parts.pop()!.trim()));
  const path = parts.join(':');
  const te = numbers[0] ?? 1;
  return { path, te, unet: numbers[1] ?? te };
}

/** Shortest decimal of a multiplier, as a tag writes it. */
function formatMultiplier(x: number): string {
  return String(x);
}

/**
 * Opens the LoRAs of a generation: each `<lora:NAME:…>` tag of the prompt as `DIR/NAME.safetensors`
 * (`--lora-dir`), each `--lora FILE[:MULT]`. Throws for a tag whose file is not there (naming it and
 * where it was looked for), a tag without `--lora-dir`, a multiplier that is not a number, and
 * files that are not LoRAs.
 */
export async function openCliLoras(
  prompt: string,
  loraDir: string | undefined,
  loraArgs: readonly string[],
): Promise<CliLoras> {
  const sources: NodeByteSource[] = [];
  const close = async (): Promise<void> => {
    await Promise.all(sources.splice(0).map((s) => s.close()));
  };
  try {
    const open = async (path: string, name: string): Promise<LoraFile> => {
      const source = await nodeFileByteSource(path);
      sources.push(source);
      return LoraFile.open(source, path, name);
    };
    const applied: AppliedLora[] = [];
    const hashes: { name: string; hash: string }[] = [];
    const byPath = new Map<string, LoraFile>();
    const add = async (path: string, name: string, te: number, unet: number): Promise<void> => {
      let file = byPath.get(path);
      if (file === undefined) {
        file = await open(path, name);
        byPath.set(path, file);
        hashes.push({ name, hash: await loraShortHash(file.file) });
      }
      applied.push({ file, te, unet });
    };
    for (const tag of loraTags(prompt)) {
      if (tag.te === null || tag.unet === null) {
        throw new SdError(
          'bad-argument',
          `The prompt's tag <lora:${tag.name}:…> has a multiplier that is not a number: write <lora:${tag.name}:0.8> or <lora:${tag.name}:TE:UNET>.`,
        );
      }
      if (loraDir === undefined) {
        throw new SdError(
          'bad-argument',
          `The prompt names LoRA "${tag.name}" (<lora:${tag.name}:…>) but no --lora-dir was given: pass --lora-dir DIR, the folder holding ${tag.name}.safetensors.`,
        );
      }
      const path = resolve(loraDir, `${tag.name}.safetensors`);
      if (!existsSync(path) || !statSync(path).isFile()) {
        throw new SdError(
          'missing-file',
          `Unknown LoRA "${tag.name}" in the prompt: ${path} does not exist (looked in --lora-dir ${resolve(loraDir)}).`,
        );
      }
      await add(path, tag.name, tag.te, tag.unet);
    }
    const suffix: string[] = [];
    for (const value of loraArgs) {
      const { path, te, unet } = parseLoraArg(value);
      const full = resolve(path);
      if (!existsSync(full) || !statSync(full).isFile())
        throw new SdError('missing-file', `--lora ${full} does not exist: expected a LoRA .safetensors file.`);
      const name = basename(full).replace(/\.safetensors$/i, '');
      await add(full, name, te, unet);
      suffix.push(`<lora:${name}:${formatMultiplier(te)}${unet === te ? '' : `:${formatMultiplier(unet)}`}>`);
    }
    return {
      set: new LoraSet(applied),
      promptSuffix: suffix.map((t) => ` ${t}`).join(''),
      hashes: hashes.length === 0 ? undefined : loraHashesText(hashes),
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}
