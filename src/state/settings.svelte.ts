/// <reference types="svelte" />
import { defaultControlNet } from '../lib/controlnet-unit.ts';
import { openingSettings } from '../lib/model-presets.ts';
import {
  checkSampler,
  DEFAULT_SETTINGS,
  formatShareQuery,
  parseShareQuery,
  type ShareSettings,
} from '../lib/share-link.ts';
import type { SamplingMode } from '../../workers/api.ts';

/**
 * The generation settings the form edits, in sync with the URL query (see share-link.ts): a copied
 * address reproduces them.
 */
export class SettingsState {
  model = $state(DEFAULT_SETTINGS.model);
  prompt = $state(DEFAULT_SETTINGS.prompt);
  negativePrompt = $state(DEFAULT_SETTINGS.negativePrompt);
  sampler = $state<string | null>(DEFAULT_SETTINGS.sampler);
  steps = $state(DEFAULT_SETTINGS.steps);
  cfgScale = $state(DEFAULT_SETTINGS.cfgScale);
  seed = $state(DEFAULT_SETTINGS.seed);
  width = $state<number | null>(DEFAULT_SETTINGS.width);
  height = $state<number | null>(DEFAULT_SETTINGS.height);
  denoisingStrength = $state(DEFAULT_SETTINGS.denoisingStrength);
  batchSize = $state(DEFAULT_SETTINGS.batchSize);
  rng = $state<'cpu' | 'gpu'>(DEFAULT_SETTINGS.rng);
  sampling = $state<SamplingMode>(DEFAULT_SETTINGS.sampling);
  etaNoiseSeedDelta = $state(DEFAULT_SETTINGS.etaNoiseSeedDelta);
  /** ControlNet Unit 0 without its image (deeply reactive: the panel binds its fields). */
  controlNet = $state(defaultControlNet());
  /** Values (from the link or a restored PNG) that were not usable, shown under the form. */
  problems = $state<string[]>([]);
  /** The worker's sampler names of each sampling mode; absent until it has answered. */
  #samplerNames: Partial<Record<SamplingMode, readonly string[]>> = {};

  /**
   * The settings of a query string (e.g. `location.search`); a preset model's own settings fill
   * in what the link leaves out.
   */
  static fromQuery(search: string): SettingsState {
    const state = new SettingsState();
    const parsed = parseShareQuery(search);
    state.assign(openingSettings(parsed));
    state.problems = parsed.problems;
    return state;
  }

  /**
   * Sets the sampler names the worker knows for a sampling mode: from then on a sampler outside them in
   * that mode (the current one included, which may have come from the link) is reported and replaced by
   * the mode's default.
   */
  setSamplerNames(sampling: SamplingMode, names: readonly string[]): void {
    this.#samplerNames = { ...this.#samplerNames, [sampling]: names };
    if (sampling === this.sampling) this.#checkSampler();
  }

  /**
   * Switches the sampling mode from the form: a sampler the new mode cannot run becomes its default
   * without a problem line (the person chose the mode; the list shows what it runs).
   */
  chooseSampling(sampling: SamplingMode): void {
    this.sampling = sampling;
    const names = this.#samplerNames[sampling];
    if (this.sampler !== null && names !== undefined && !names.includes(this.sampler)) this.sampler = null;
  }

  #checkSampler(): void {
    const names = this.#samplerNames[this.sampling];
    if (names === undefined) return;
    const { sampler, problem } = checkSampler(this.sampler, names, this.sampling);
    this.sampler = sampler;
    // the list is keyed by text: the same PNG dropped twice must not add the same line twice
    if (problem !== undefined && !this.problems.includes(problem)) this.problems = [...this.problems, problem];
  }

  assign(s: Partial<ShareSettings>): void {
    if (s.model !== undefined) this.model = s.model;
    if (s.prompt !== undefined) this.prompt = s.prompt;
    if (s.negativePrompt !== undefined) this.negativePrompt = s.negativePrompt;
    // the mode first: the sampler is checked against the names of the mode it belongs to
    if (s.sampling !== undefined) this.sampling = s.sampling;
    if (s.etaNoiseSeedDelta !== undefined) this.etaNoiseSeedDelta = s.etaNoiseSeedDelta;
    if (s.sampler !== undefined || s.sampling !== undefined) {
      if (s.sampler !== undefined) this.sampler = s.sampler;
      this.#checkSampler();
    }
    if (s.steps !== undefined) this.steps = s.steps;
    if (s.cfgScale !== undefined) this.cfgScale = s.cfgScale;
    if (s.seed !== undefined) this.seed = s.seed;
    if (s.width !== undefined) this.width = s.width;
    if (s.height !== undefined) this.height = s.height;
    if (s.denoisingStrength !== undefined) this.denoisingStrength = s.denoisingStrength;
    if (s.batchSize !== undefined) this.batchSize = s.batchSize;
    if (s.rng !== undefined) this.rng = s.rng;
    if (s.controlNet !== undefined) this.controlNet = { ...s.controlNet };
  }

  snapshot(): ShareSettings {
    return {
      model: this.model,
      prompt: this.prompt,
      negativePrompt: this.negativePrompt,
      sampler: this.sampler,
      steps: this.steps,
      cfgScale: this.cfgScale,
      seed: this.seed,
      width: this.width,
      height: this.height,
      denoisingStrength: this.denoisingStrength,
      batchSize: this.batchSize,
      rng: this.rng,
      sampling: this.sampling,
      etaNoiseSeedDelta: this.etaNoiseSeedDelta,
      controlNet: { ...this.controlNet },
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
