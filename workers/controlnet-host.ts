import { SdError } from '../src/core/errors.ts';
import {
  ControlNetStore,
  isDiffusersWeightsName,
  type ControlNetInputFile,
  type StoredControlNet,
  type StoredControlNetInfo,
} from '../src/core/store/controlnet-store.ts';
import type { ModelStore } from '../src/core/store/model-store.ts';
import { createBrowserModelStore } from '../src/platform/store/browser-platform.ts';
import { createIdbKeyValueStore } from '../src/platform/store/idb-kv.ts';
import type { AddControlNetOptions, ControlNetEntry } from './api.ts';
import { fetchOptional, fetchSafetensors } from './fetch-file.ts';

/** IndexedDB database of the stored ControlNets (apart from the models, so the store panel lists models only). */
export const CONTROLNET_STORE_DB = 'sd-controlnet-store';

/**
 * The name of a diffusers ControlNet folder from the URL of its weights: the folder holding them,
 * or on Hugging Face (`…/REPO/resolve/REVISION/diffusion_pytorch_model.safetensors`) the repository.
 */
export function controlNetNameOfUrl(url: string): string | undefined {
  const dirs = new URL(url).pathname
    .split('/')
    .filter((s) => s !== '')
    .map(decodeURIComponent)
    .slice(0, -1);
  const resolve = dirs.lastIndexOf('resolve');
  return resolve >= 1 && resolve === dirs.length - 2 ? dirs[resolve - 1] : dirs.at(-1);
}

function entryOf(info: StoredControlNetInfo): ControlNetEntry {
  return { name: info.name, sizeBytes: info.sizeBytes, description: info.description, hasConfig: info.hasConfig };
}

/** The worker's stored ControlNets: adding (files or a URL), listing and deleting them, and finding those a job names. */
export class ControlNetHost {
  readonly #store: ControlNetStore;

  /** @param store where they are kept; by default the browser's `sd-controlnet-store` database. */
  constructor(store: ModelStore = createBrowserModelStore({ kv: createIdbKeyValueStore(CONTROLNET_STORE_DB) })) {
    this.#store = new ControlNetStore(store);
  }

  /**
   * Stores picked files, or fetches a URL; for a diffusers folder's weights by URL the
   * `config.json` beside them is fetched too (a folder without one takes the model's UNet config).
   */
  async add(options: AddControlNetOptions): Promise<ControlNetEntry> {
    if ('files' in options) {
      const files = options.files.map((f) => ({ path: f.path, blob: f.file }));
      return entryOf(await this.#store.add(files, options.name));
    }
    const { fileName, blob } = await fetchSafetensors(options.url, 'ControlNet');
    const files: ControlNetInputFile[] = [{ path: fileName, blob }];
    let name: string | undefined;
    if (isDiffusersWeightsName(fileName)) {
      const config = await fetchOptional(new URL('config.json', options.url).href);
      if (config !== undefined) files.push({ path: 'config.json', blob: config });
      name = controlNetNameOfUrl(options.url);
    }
    return entryOf(await this.#store.add(files, name));
  }

  async list(): Promise<ControlNetEntry[]> {
    return (await this.#store.list()).map(entryOf);
  }

  delete(name: string): Promise<void> {
    return this.#store.delete(name);
  }

  /**
   * Opens the stored ControlNets that a job's units name, in unit order. Throws `missing-file` for a
   * name no stored ControlNet has, saying to add the file in the ControlNet panel.
   */
  async resolve(names: readonly string[]): Promise<StoredControlNet[]> {
    const opened = new Map<string, StoredControlNet>();
    const found: StoredControlNet[] = [];
    for (const name of names) {
      const net = opened.get(name) ?? (await this.#store.open(name));
      if (net === undefined) {
        const known = (await this.#store.list()).map((s) => s.name).join(', ');
        throw new SdError(
          'missing-file',
          `Unknown ControlNet "${name}": this browser has no ControlNet of that name. Add the file in the ControlNet panel${known === '' ? ' (no ControlNets are stored yet)' : ` (stored ControlNets: ${known})`}, or choose a stored one.`,
        );
      }
      opened.set(name, net);
      found.push(net);
    }
    return found;
  }
}
