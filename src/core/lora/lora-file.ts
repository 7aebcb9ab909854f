import { SdError } from '../errors.ts';
import type { ByteSource } from '../safetensors/byte-source.ts';
import { SafetensorsFile } from '../safetensors/safetensors-file.ts';
import type { SafetensorsTensorInfo } from '../safetensors/safetensors-header.ts';
import { floatBytesToFloat32 } from '../safetensors/widen.ts';

/**
 * One low-rank module of a LoRA file: ΔW = (alpha / rank) · up @ down, reshaped to the weight it
 * patches. kohya-ss/sd-scripts names it `lora_unet_<module path, dots as _>` / `lora_te[12]_…`
 * (`.lora_down.weight`, `.lora_up.weight`, `.alpha`); diffusers/PEFT files
 * `unet.<module path>.lora_A.weight` / `.lora_B.weight` (older: `.lora.down.weight` / `.lora.up.weight`).
 */
export interface LoraModule {
  /** The module's name in the file (the keys without their suffixes), e.g. `lora_unet_mid_block_attentions_0_proj_in`. */
  name: string;
  /** `[rank, in]`, `[rank, in, 1, 1]` or LoCon's `[rank, in, k, k]`. */
  down: SafetensorsTensorInfo;
  /** `[out, rank]` or `[out, rank, 1, 1]`. */
  up: SafetensorsTensorInfo;
  /** The scale numerator; rank when the file has no `.alpha` (a scale of 1, as A1111 and kohya do). */
  alpha: number;
  /** down's first dimension. */
  rank: number;
}

/** Key suffixes of the low-rank factors, in the spellings of kohya and of diffusers/PEFT. */
const DOWN_SUFFIXES = ['.lora_down.weight', '.lora_A.weight', '.lora.down.weight'];
const UP_SUFFIXES = ['.lora_up.weight', '.lora_B.weight', '.lora.up.weight'];
const ALPHA_SUFFIX = '.alpha';

function stripSuffix(key: string, suffixes: readonly string[]): string | undefined {
  const suffix = suffixes.find((s) => key.endsWith(s));
  return suffix === undefined ? undefined : key.slice(0, -suffix.length);
}

/**
 * An opened LoRA file: its modules by name, and the keys that are no plain LoRA factor (LoHa,
 * LoKr, CP-decomposed `lora_mid`, full `diff` weights…), which cannot be merged here and are
 * reported as not placed.
 */
export class LoraFile {
  private constructor(
    /** The name tags use (`<lora:NAME:…>`), or the file name. */
    readonly name: string,
    readonly file: SafetensorsFile,
    readonly modules: ReadonlyMap<string, LoraModule>,
    /** Keys that are no LoRA factor or alpha, and factors without their partner. */
    readonly unusableKeys: readonly string[],
  ) {}

  /** Reads the header and the alphas (a few bytes each); throws for files that are not safetensors. */
  static async open(source: ByteSource, fileName: string, name = fileName): Promise<LoraFile> {
    const file = await SafetensorsFile.open(source, fileName);
    const parts = new Map<string, { down?: SafetensorsTensorInfo; up?: SafetensorsTensorInfo; alpha?: string }>();
    const unusable: string[] = [];
    const partOf = (module: string) => {
      let p = parts.get(module);
      if (p === undefined) parts.set(module, (p = {}));
      return p;
    };
    for (const [key, info] of file.tensors) {
      const down = stripSuffix(key, DOWN_SUFFIXES);
      const up = stripSuffix(key, UP_SUFFIXES);
      if (down !== undefined) partOf(down).down = info;
      else if (up !== undefined) partOf(up).up = info;
      else if (key.endsWith(ALPHA_SUFFIX)) partOf(key.slice(0, -ALPHA_SUFFIX.length)).alpha = key;
      else unusable.push(key);
    }
    const modules = new Map<string, LoraModule>();
    for (const [name, p] of parts) {
      if (p.down === undefined || p.up === undefined) {
        unusable.push(...[p.down?.name, p.up?.name, p.alpha].filter((k): k is string => k !== undefined));
        continue;
      }
      const rank = p.down.shape[0] ?? 0;
      if (p.down.shape.length < 2 || p.up.shape.length < 2 || p.up.shape[1] !== rank || rank === 0) {
        throw new SdError(
          'unsupported-model',
          `LoRA ${fileName}: module "${name}" has down [${p.down.shape.join(', ')}] and up [${p.up.shape.join(', ')}], which do not share a rank.`,
        );
      }
      const alpha = p.alpha === undefined ? rank : await readScalar(file, p.alpha);
      modules.set(name, { name, down: p.down, up: p.up, alpha, rank });
    }
    if (modules.size === 0) {
      throw new SdError(
        'unsupported-model',
        `${fileName} holds no LoRA modules (no .lora_down/.lora_up or .lora_A/.lora_B weights)` +
          (unusable.length > 0 ? `; its first keys: ${unusable.slice(0, 3).join(', ')}` : '') +
          '. Only LoRA (and LoCon) files can be applied; LoHa, LoKr and full checkpoints cannot.',
      );
    }
    return new LoraFile(name, file, modules, unusable);
  }

  /** The factors of `module` as float32 (files store them as F32, F16 or BF16). */
  async factors(module: LoraModule): Promise<{ down: Float32Array; up: Float32Array }> {
    const [down, up] = await Promise.all([module.down, module.up].map((t) => this.readFloats(t)));
    return { down: down!, up: up! };
  }

  private async readFloats(info: SafetensorsTensorInfo): Promise<Float32Array> {
    if (info.dtype !== 'F32' && info.dtype !== 'F16' && info.dtype !== 'BF16') {
      throw new SdError(
        'unsupported-model',
        `LoRA ${this.file.fileName}: tensor "${info.name}" is ${info.dtype}, not a float.`,
      );
    }
    return floatBytesToFloat32(info.dtype, await this.file.readBytes(info.name));
  }
}

async function readScalar(file: SafetensorsFile, key: string): Promise<number> {
  const info = file.tensor(key);
  if (info.byteLength === 0 || (info.dtype !== 'F32' && info.dtype !== 'F16' && info.dtype !== 'BF16')) {
    throw new SdError(
      'unsupported-model',
      `LoRA ${file.fileName}: "${key}" is ${info.dtype} [${info.shape.join(', ')}], not a float alpha.`,
    );
  }
  return floatBytesToFloat32(info.dtype, await file.readBytes(key, 0, 1))[0]!;
}
