import { SdError } from '../errors.ts';
import type { BlobLike } from '../io/blob-like.ts';
import { LoraFile } from '../lora/lora-file.ts';
import { blobByteSource } from '../safetensors/byte-source.ts';
import type { ModelStore } from './model-store.ts';
import { NamedFileStore, type StoredEntryInfo } from './named-file-store.ts';

/** A stored LoRA file, as the page lists it; `name` is what prompt tags use, `<lora:NAME:…>`. */
export type StoredLoraInfo = StoredEntryInfo;

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
  private readonly entries: NamedFileStore;

  constructor(store: ModelStore) {
    this.entries = new NamedFileStore(store, ID_PREFIX);
  }

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
    return this.entries.put(name, [{ path: `${name}.safetensors`, blob }]);
  }

  /** The complete stored LoRAs, by name. */
  list(): Promise<StoredLoraInfo[]> {
    return this.entries.list();
  }

  /** Opens a stored LoRA by its tag name; undefined when none has that name. */
  async open(name: string): Promise<LoraFile | undefined> {
    const stored = await this.entries.open(name);
    if (stored === undefined) return undefined;
    const path = `${name}.safetensors`;
    return LoraFile.open(blobByteSource(await stored.readBlob(path)), path, name);
  }

  delete(name: string): Promise<void> {
    return this.entries.delete(name);
  }
}
