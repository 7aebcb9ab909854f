import { openControlNet } from '../src/core/models/controlnet-model.ts';
import { loadControlNet, type LoadedControlNet } from '../src/core/models/load-controlnet.ts';
import type { BaseUnet } from '../src/core/models/single-file-model.ts';
import type { ProgressCallback } from '../src/core/pipeline/progress.ts';
import type { Runtime } from '../src/core/runtime/runtime.ts';
import type { StoredControlNet } from '../src/core/store/controlnet-store.ts';

/** A session and the stored version it was built from. */
interface CachedSession {
  /** `name@updatedAtMs`: a ControlNet replaced under the same name gets a new session. */
  version: string;
  loaded: LoadedControlNet;
}

/**
 * The ControlNet sessions of one loaded model (built with ControlNet residual inputs): each stored
 * ControlNet is checked against the model's UNet, built and loaded on the model's runtime once,
 * and kept for the next jobs that use it, until the model is released, the ControlNet deleted or
 * replaced, or a job runs without it.
 */
export class ControlNetSessions {
  readonly #sessions = new Map<string, CachedSession>();
  readonly #baseUnet: () => Promise<BaseUnet>;
  readonly #runtime: Runtime;

  /**
   * @param baseUnet the model's UNet, which a ControlNet must fit
   * @param runtime the model's runtime (same backend and device as its UNet)
   */
  constructor(baseUnet: () => Promise<BaseUnet>, runtime: Runtime) {
    this.#baseUnet = baseUnet;
    this.#runtime = runtime;
  }

  /**
   * The sessions of `nets`, in their order (one per unit; a ControlNet named twice is loaded once).
   * Throws `unsupported-model` for a ControlNet of another architecture, naming the first tensor
   * that differs (the core's check).
   */
  async sessionsFor(nets: readonly StoredControlNet[], onProgress: ProgressCallback): Promise<LoadedControlNet[]> {
    const wanted = new Map(nets.map((n) => [n.name, versionOf(n)]));
    // a ControlNet's weights are about half the UNet's: those this job does not use go first
    for (const [name, cached] of [...this.#sessions]) {
      if (wanted.get(name) !== cached.version) await this.release(name);
    }
    const missing = [...new Map(nets.map((n) => [n.name, n])).values()].filter((n) => !this.#sessions.has(n.name));
    for (const [index, net] of missing.entries()) {
      onProgress({ kind: 'load', component: `ControlNet ${net.name}`, index, count: missing.length });
      const opened = await openControlNet(net.weights, await this.#baseUnet(), {
        ...(net.config ? { config: net.config } : {}),
        convertedStore: net.convertedStore,
      });
      const loaded = await loadControlNet(opened, this.#runtime, net.name);
      this.#sessions.set(net.name, { version: versionOf(net), loaded });
    }
    return nets.map((n) => this.#sessions.get(n.name)!.loaded);
  }

  /** Releases the session of `name` (a ControlNet deleted, replaced or unused); nothing when none is loaded. */
  async release(name: string): Promise<void> {
    const cached = this.#sessions.get(name);
    this.#sessions.delete(name);
    await cached?.loaded.release();
  }

  /** Releases every session (the model is discarded). */
  async releaseAll(): Promise<void> {
    const all = [...this.#sessions.values()];
    this.#sessions.clear();
    await Promise.all(all.map((s) => s.loaded.release()));
  }
}

function versionOf(net: StoredControlNet): string {
  return `${net.name}@${net.updatedAtMs}`;
}
