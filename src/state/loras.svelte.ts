/// <reference types="svelte" />
import type { LoraEntry } from '../../workers/api.ts';
import type { WorkerClient } from '../worker-client.ts';
import { PanelOperations } from './panel-operations.svelte.ts';

/**
 * The LoRAs kept in this browser, as the LoRA panel and the prompt's autocompletion see them. The
 * worker stores, lists and deletes them (it owns IndexedDB); operations run one at a time and end
 * with a fresh listing.
 */
export class LoraState extends PanelOperations {
  entries = $state.raw<LoraEntry[]>([]);

  constructor(private readonly client: WorkerClient) {
    super('The LoRA operation failed');
  }

  get names(): string[] {
    return this.entries.map((e) => e.name);
  }

  async refresh(): Promise<void> {
    try {
      this.entries = await this.client.listLoras();
    } catch (e) {
      this.fail(e, 'Could not list the stored LoRAs');
    }
  }

  /** Stores picked or dropped files, one after another (a file that is no LoRA stops there, saying which). */
  add(files: readonly File[]): Promise<void> {
    return this.operate(async () => {
      const added: string[] = [];
      for (const file of files) added.push((await this.client.addLora({ file, fileName: file.name })).name);
      return `Added ${added.join(', ')}.`;
    });
  }

  addUrl(url: string): Promise<void> {
    return this.operate(async () => `Added ${(await this.client.addLora({ url })).name}.`);
  }

  delete(name: string): Promise<void> {
    return this.operate(async () => {
      await this.client.deleteLora({ name });
      return `Deleted ${name}.`;
    });
  }
}
