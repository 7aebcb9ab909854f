import { SdError } from '../src/core/errors.ts';
import { loraHashesText, loraShortHash } from '../src/core/lora/lora-hash.ts';
import type { LoraFile } from '../src/core/lora/lora-file.ts';
import type { LoraSet } from '../src/core/lora/lora-set.ts';
import { loraTags } from '../src/core/png/lora-tags.ts';
import { LoraStore, type StoredLoraInfo } from '../src/core/store/lora-store.ts';
import { createBrowserModelStore } from '../src/platform/store/browser-platform.ts';
import { createIdbKeyValueStore } from '../src/platform/store/idb-kv.ts';
import type { AddLoraOptions, LoraEntry } from './api.ts';
import { fetchSafetensors } from './fetch-file.ts';

/** IndexedDB database of the stored LoRAs (apart from the models, so the store panel lists models only). */
export const LORA_STORE_DB = 'sd-lora-store';

/** The LoRAs a prompt's `<lora:NAME:…>` tags name, opened from the store, in tag order. */
export interface PromptLoras {
  files: LoraFile[];
  multipliers: { te: number; unet: number }[];
  /** Which files (names and stored versions), not their multipliers: a model built with the same key only re-merges. */
  key: string;
  /** A1111's `Lora hashes` infotext value. */
  hashes: string;
}

/** The worker's stored LoRAs: adding, listing and deleting them, and resolving a prompt's tags against them. */
export class LoraHost {
  readonly #store = new LoraStore(createBrowserModelStore({ kv: createIdbKeyValueStore(LORA_STORE_DB) }));
  /** Short hashes by `name|updatedAtMs` (hashing reads the whole file). */
  readonly #hashes = new Map<string, string>();

  async add(options: AddLoraOptions): Promise<StoredLoraInfo> {
    if ('file' in options) return this.#store.add(options.fileName, options.file);
    const { fileName, blob } = await fetchSafetensors(options.url, 'LoRA');
    return this.#store.add(fileName, blob);
  }

  /** The stored LoRAs with their module count, and how many modules `active` (the loaded model's set) placed. */
  async list(active: LoraSet | undefined): Promise<LoraEntry[]> {
    const placed = new Map((active?.placements() ?? []).map((p) => [p.name, p.placed]));
    const entries: LoraEntry[] = [];
    for (const info of await this.#store.list()) {
      const file = await this.#store.open(info.name);
      const entry: LoraEntry = { name: info.name, sizeBytes: info.sizeBytes, moduleCount: file?.modules.size ?? 0 };
      const matched = placed.get(info.name);
      if (matched !== undefined) entry.matchedModules = matched;
      entries.push(entry);
    }
    return entries;
  }

  delete(name: string): Promise<void> {
    return this.#store.delete(name);
  }

  /**
   * Opens the LoRAs the prompt's tags name; undefined without tags. Throws for a name no stored
   * LoRA has (saying to add the file in the LoRA panel) and for a multiplier that is not a number.
   */
  async resolve(prompt: string): Promise<PromptLoras | undefined> {
    const tags = loraTags(prompt);
    if (tags.length === 0) return undefined;
    const stored = await this.#store.list();
    const byName = new Map(stored.map((s) => [s.name, s]));
    const files: LoraFile[] = [];
    const opened = new Map<string, LoraFile>();
    const multipliers: { te: number; unet: number }[] = [];
    const hashes: { name: string; hash: string }[] = [];
    for (const tag of tags) {
      if (tag.te === null || tag.unet === null) {
        throw new SdError(
          'bad-argument',
          `The prompt's tag <lora:${tag.name}:…> has a multiplier that is not a number: write <lora:${tag.name}:0.8> or <lora:${tag.name}:TE:UNET>.`,
        );
      }
      const info = byName.get(tag.name);
      if (info === undefined) {
        const known = stored.map((s) => s.name).join(', ');
        throw new SdError(
          'missing-file',
          `Unknown LoRA "${tag.name}" in the prompt (<lora:${tag.name}:…>): this browser has no LoRA file ${tag.name}.safetensors. Add the file in the LoRA panel${known === '' ? ' (no LoRAs are stored yet)' : ` (stored LoRAs: ${known})`}, or remove the tag.`,
        );
      }
      let file = opened.get(tag.name);
      if (file === undefined) {
        file = (await this.#store.open(tag.name))!;
        opened.set(tag.name, file);
        hashes.push({ name: tag.name, hash: await this.#hashOf(file, info) });
      }
      files.push(file);
      multipliers.push({ te: tag.te, unet: tag.unet });
    }
    const key = tags.map((t) => `${t.name}@${byName.get(t.name)!.updatedAtMs}`).join(',');
    return { files, multipliers, key, hashes: loraHashesText(hashes) };
  }

  async #hashOf(file: LoraFile, info: StoredLoraInfo): Promise<string> {
    const id = `${info.name}|${info.updatedAtMs}`;
    let hash = this.#hashes.get(id);
    if (hash === undefined) this.#hashes.set(id, (hash = await loraShortHash(file.file)));
    return hash;
  }
}
