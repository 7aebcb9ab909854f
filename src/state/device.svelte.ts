/// <reference types="svelte" />
import type { BackendPreference, DeviceReport } from '../../workers/api.ts';
import type { WorkerClient } from '../worker-client.ts';

/** What the worker reports about WebGPU, and which backend the user asked for. */
export class DeviceState {
  report = $state<DeviceReport | null>(null);
  error = $state<string | null>(null);
  preference = $state<BackendPreference>('auto');

  async load(client: WorkerClient): Promise<void> {
    try {
      this.report = await client.describeDevice();
    } catch (e) {
      this.error = e instanceof Error ? e.message : String(e);
    }
  }
}
