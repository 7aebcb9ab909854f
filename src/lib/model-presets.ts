/**
 * Model presets (src/data/model-presets.json): a known model with the settings it is meant to run
 * with, e.g. SD-Turbo at 1 step and CFG 0. A preset's settings apply when the page opens with its
 * model, under any value the share link gives, and again whenever the preset is picked.
 */
import presets from '../data/model-presets.json';
import type { ParsedShareQuery, ShareSettings } from './share-link.ts';

/** Settings a preset may set; the prompt, seed and the rest stay the user's. */
export type PresetSettings = Partial<Pick<ShareSettings, 'sampler' | 'steps' | 'cfgScale' | 'width' | 'height'>>;

/** One entry of the preset list. */
export interface ModelPreset {
  /** The model reference (Hugging Face repository id or URL), as in `ShareSettings.model`. */
  id: string;
  /** What the preset menu shows. */
  label: string;
  /** Model family, for information: sd1, sd2 or sdxl. */
  family: string;
  settings: PresetSettings;
}

export const MODEL_PRESETS: readonly ModelPreset[] = presets;

/** The preset whose id is `model` (compared after trimming), if any. */
export function presetOf(model: string): ModelPreset | undefined {
  const id = model.trim();
  return MODEL_PRESETS.find((p) => p.id === id);
}

function copySetting<K extends keyof PresetSettings>(from: PresetSettings, to: ShareSettings, name: K): void {
  const value = from[name];
  if (value !== undefined) to[name] = value as ShareSettings[K];
}

/**
 * The settings the page opens with: the link's, with the preset of its model filling every
 * setting the link did not give a usable value for (an ignored `steps=0` takes the preset's steps).
 */
export function openingSettings({ settings, given }: Pick<ParsedShareQuery, 'settings' | 'given'>): ShareSettings {
  const preset = presetOf(settings.model);
  if (!preset) return settings;
  const opened: ShareSettings = { ...settings };
  for (const name of Object.keys(preset.settings) as Array<keyof PresetSettings>) {
    if (!given.has(name)) copySetting(preset.settings, opened, name);
  }
  return opened;
}

/**
 * The settings to assign when a preset is picked: its model and its settings, with the size
 * reset to null so that the new model's natural size applies unless the preset names one.
 */
export function pickedPresetSettings(preset: ModelPreset): Partial<ShareSettings> {
  return { width: null, height: null, ...preset.settings, model: preset.id };
}
