import { SdError } from '../errors.ts';
import type { BlobLike } from '../io/blob-like.ts';
import { LoraFile } from '../lora/lora-file.ts';
import { blobByteSource } from '../safetensors/byte-source.ts';
import type { ModelStore } from './model-store.ts';

/** A stored LoRA file, as the page lists it. Sizes in bytes. */
export interface StoredLoraInfo {
  /** The name prompt tags use: `<lora:NAME:…>` (the file name without `.safetensors`). */
  name: string;
  sizeBytes: number;
  updatedAtMs: number;
}

const ID_PREFIX = 'lora:';
const EXTENSION = /\.safetensors$/i;

/** The tag name of a LoRA file: its file name without `.safetensors`. */
export function loraNameOf(fileName: string): string {
  const base = fileName.split(/[/\\]/).pop() ?? fileName;
  return base.replace(EXTENSION, '');
}

/**
 * LoRA files kept in a {@link ModelStore} of their own (its own IndexedDB database in browsers),
 * each stored as a one-file entry `lora:NAME`: they survive reloads and open offline. Tags resolve
 * against the names, as A1111 resolves them against its `models/Lora` folder.
 */
export class LoraStore {
  constructor(private readonly store: ModelStore) {}

  /**
   * Checks that `blob` is a LoRA (a safetensors file with low-rank factors) and stores it under its
   * file name (without `.safetensors`), replacing a stored LoRA of the same name.
   */
  async add(fileName: string, blob: BlobLike): Promise<StoredLoraInfo> {
    if (!EXTENSION.test(fileName)) {
      throw new SdError(
        'bad-argument',
        `${fileName} is not a LoRA file: expected a .safetensors file (kohya-ss or diffusers/PEFT LoRA).`,
      );
    }
    const name = loraNameOf(fileName);
    if (name === '' || /[<>:]/.test(name)) {
      throw new SdError(
        'bad-argument',
        `"${fileName}" cannot name a LoRA: a tag <lora:NAME:…> needs a name without <, > or ":". Rename the file.`,
      );
    }
    const lora = await LoraFile.open(blobByteSource(blob), fileName, name);
    if (lora.modules.size === 0) {
      throw new SdError(
        'unsupported-model',
        `${fileName} holds no LoRA modules (no lora_down/lora_up or lora_A/lora_B pairs; e.g. ${lora.unusableKeys.slice(0, 3).join(', ') || 'no tensors'}). LoHa, LoKr and full checkpoints are not LoRAs this page can merge.`,
      );
    }
    await this.store.delete(ID_PREFIX + name);
    const stored = await this.store.importBlobs(ID_PREFIX + name, name, [{ path: `${name}.safetensors`, blob }]);
    return { name, sizeBytes: stored.sizeBytes, updatedAtMs: stored.record.updatedAtMs };
  }

  /** The complete stored LoRAs, by name. */
  async list(): Promise<StoredLoraInfo[]> {
    return (await this.store.list())
      .filter((m) => m.id.startsWith(ID_PREFIX) && m.isComplete)
      .map((m) => ({ name: m.label, sizeBytes: m.sizeBytes, updatedAtMs: m.updatedAtMs }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Opens a stored LoRA by its tag name; undefined when none has that name. */
  async open(name: string): Promise<LoraFile | undefined> {
    const id = ID_PREFIX + name;
    if (!(await this.store.list()).some((m) => m.id === id && m.isComplete)) return undefined;
    const stored = await this.store.open(id, { repair: false });
    const path = `${name}.safetensors`;
    return LoraFile.open(blobByteSource(await stored.readBlob(path)), path, name);
  }

  delete(name: string): Promise<void> {
    return this.store.delete(ID_PREFIX + name);
  }
}
