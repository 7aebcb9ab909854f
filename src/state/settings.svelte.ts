/// <reference types="svelte" />
import { DEFAULT_SETTINGS, formatShareQuery, parseShareQuery, type ShareSettings } from '../lib/share-link.ts';

/**
 * The generation settings the form edits, in sync with the URL query (see share-link.ts): a copied
 * address reproduces them.
 */
export class SettingsState {
  model = $state(DEFAULT_SETTINGS.model);
  prompt = $state(DEFAULT_SETTINGS.prompt);
  negative = $state(DEFAULT_SETTINGS.negative);
  sampler = $state<string | null>(DEFAULT_SETTINGS.sampler);
  steps = $state(DEFAULT_SETTINGS.steps);
  cfg = $state(DEFAULT_SETTINGS.cfg);
  seed = $state(DEFAULT_SETTINGS.seed);
  width = $state<number | null>(DEFAULT_SETTINGS.width);
  height = $state<number | null>(DEFAULT_SETTINGS.height);
  strength = $state(DEFAULT_SETTINGS.strength);
  batch = $state(DEFAULT_SETTINGS.batch);
  rng = $state<'cpu' | 'gpu'>(DEFAULT_SETTINGS.rng);
  /** Query values that were not usable, shown once under the form. */
  problems = $state<string[]>([]);

  /** The settings of a query string (e.g. `location.search`). */
  static fromQuery(search: string): SettingsState {
    const state = new SettingsState();
    const { settings, problems } = parseShareQuery(search);
    state.assign(settings);
    state.problems = problems;
    return state;
  }

  assign(s: Partial<ShareSettings>): void {
    if (s.model !== undefined) this.model = s.model;
    if (s.prompt !== undefined) this.prompt = s.prompt;
    if (s.negative !== undefined) this.negative = s.negative;
    if (s.sampler !== undefined) this.sampler = s.sampler;
    if (s.steps !== undefined) this.steps = s.steps;
    if (s.cfg !== undefined) this.cfg = s.cfg;
    if (s.seed !== undefined) this.seed = s.seed;
    if (s.width !== undefined) this.width = s.width;
    if (s.height !== undefined) this.height = s.height;
    if (s.strength !== undefined) this.strength = s.strength;
    if (s.batch !== undefined) this.batch = s.batch;
    if (s.rng !== undefined) this.rng = s.rng;
  }

  snapshot(): ShareSettings {
    return {
      model: this.model,
      prompt: this.prompt,
      negative: this.negative,
      sampler: this.sampler,
      steps: this.steps,
      cfg: this.cfg,
      seed: this.seed,
      width: this.width,
      height: this.height,
      strength: this.strength,
      batch: this.batch,
      rng: this.rng,
    };
  }

  /**
   * The query string for the current settings (reads every field, so an $effect tracks them all),
   * keeping the other parameters of `current`.
   */
  toQuery(current = ''): string {
    return formatShareQuery(this.snapshot(), current);
  }
}
