/// <reference types="svelte" />
import type { StoreReport } from '../../workers/api.ts';
import type { WorkerClient } from '../worker-client.ts';
import { PanelOperations } from './panel-operations.svelte.ts';

/** `navigator.storage` as far as the panel uses it (absent in some embedded browsers). */
type StorageLike = Pick<StorageManager, 'persisted' | 'persist'>;

function storage(): StorageLike | undefined {
  return (globalThis as { navigator?: { storage?: StorageLike } }).navigator?.storage;
}

/**
 * The model store as the page shows it: the worker lists, deletes and clears (it owns IndexedDB);
 * persistence is read and asked for here, because `navigator.storage.persist()` exists only in
 * windows. Operations run one at a time; each ends with a fresh listing.
 */
export class StoreState extends PanelOperations {
  report = $state.raw<StoreReport | null>(null);
  /** null: this browser does not say whether storage is persistent. */
  isPersisted = $state<boolean | null>(null);
  #refreshes = 0;

  constructor(private readonly client: WorkerClient) {
    super('The store operation failed');
  }

  get canAskPersistence(): boolean {
    return typeof storage()?.persist === 'function';
  }

  /** Lists the store again (the newest listing wins when calls overlap). */
  async refresh(): Promise<void> {
    const n = ++this.#refreshes;
    try {
      const [report, isPersisted] = await Promise.all([this.client.storeReport(), this.#readPersisted()]);
      if (n !== this.#refreshes) return;
      this.report = report;
      this.isPersisted = isPersisted;
    } catch (e) {
      if (n === this.#refreshes) this.fail(e, 'Could not list the stored models');
    }
  }

  /** Deletes one model (the worker refuses with `busy` while a job uses it). */
  delete(modelId: string, label: string): Promise<void> {
    return this.operate(async () => {
      await this.client.deleteModel({ modelId });
      return `Deleted ${label}.`;
    });
  }

  /** Deletes every stored model (refused while a job runs). */
  clear(): Promise<void> {
    return this.operate(async () => {
      const count = this.report?.models.length ?? 0;
      await this.client.clearStore();
      return `Deleted ${count} stored model${count === 1 ? '' : 's'}.`;
    });
  }

  /** Asks the browser to keep the stored models under storage pressure (it may decline, or ask the user). */
  persist(): Promise<void> {
    return this.operate(async () => {
      const manager = storage();
      if (!manager?.persist)
        return 'This browser cannot keep storage persistent; stored models may be evicted when the disk fills up.';
      const isGranted = await manager.persist();
      return isGranted
        ? 'Storage is persistent: the browser keeps the stored models until you delete them.'
        : 'The browser declined persistent storage (browsers often grant it to installed or frequently used sites). Stored models may be evicted when the disk fills up; the page then downloads only the missing parts.';
    });
  }

  async #readPersisted(): Promise<boolean | null> {
    const manager = storage();
    if (!manager?.persisted) return null;
    try {
      return await manager.persisted();
    } catch {
      // some embedded contexts reject; the panel then says the browser does not tell
      return null;
    }
  }
}
