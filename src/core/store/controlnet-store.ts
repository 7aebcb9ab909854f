import { strFromU8 } from 'fflate';
import { controlNetCondSettings, controlNetLayout, type ControlNetLayout } from '../checkpoint/controlnet-keys.ts';
import { SdError } from '../errors.ts';
import { parseControlNetConfig } from '../graphs/controlnet-config.ts';
import type { BlobLike } from '../io/blob-like.ts';
import type { ConvertedStore } from '../models/component-weights.ts';
import { blobWeightsFile, type WeightsFile } from '../models/weights-file.ts';
import { blobByteSource } from '../safetensors/byte-source.ts';
import { SafetensorsFile } from '../safetensors/safetensors-file.ts';
import type { ModelStore } from './model-store.ts';
import { NamedFileStore, type StoredEntryInfo } from './named-file-store.ts';

/** A stored ControlNet as the ControlNet panel lists it. Sizes in bytes. */
export interface StoredControlNetInfo extends StoredEntryInfo {
  /** e.g. "ControlNet 1.0 file (control_model. keys), float16" (no size: `sizeBytes` has it). */
  description: string;
  /** Its diffusers folder's `config.json` is stored with it. */
  hasConfig: boolean;
}

/** A stored ControlNet opened for `openControlNet`: its weights, its config when it has one, where its converted weights go. */
export interface StoredControlNet {
  name: string;
  /** Changes when the ControlNet is replaced: sessions built from an older version are stale. */
  updatedAtMs: number;
  weights: WeightsFile;
  config?: { json: unknown; label: string };
  /** float16 weights widened to float32 at load are kept here, under the ControlNet's entry (deleted with it). */
  convertedStore: ConvertedStore;
}

/** A file given to {@link ControlNetStore.add}: its path in what was picked or fetched, and its contents. */
export interface ControlNetInputFile {
  path: string;
  blob: BlobLike;
}

const ID_PREFIX = 'controlnet:';
const CONFIG = 'config.json';
const EXTENSION = /\.safetensors$/i;
/** The weights of a diffusers ControlNet folder, in the order they are preferred (as the CLI's `--controlnet DIR`). */
const FOLDER_WEIGHTS = ['diffusion_pytorch_model.fp16.safetensors', 'diffusion_pytorch_model.safetensors'];

/** Whether `fileName` is the weights file of a diffusers folder, `diffusion_pytorch_model[.fp16].safetensors`. */
export function isDiffusersWeightsName(fileName: string): boolean {
  return FOLDER_WEIGHTS.includes(baseName(fileName).toLowerCase());
}

function baseName(path: string): string {
  return path.split('/').pop() ?? path;
}

/** What a file that is no ControlNet looks like instead, from its keys, as advice. */
function lookalike(file: SafetensorsFile): string {
  const keys = [...file.tensors.keys()];
  if (keys.some((k) => /lora_(down|up|A|B)\b|\.lora\./.test(k)))
    return ' It looks like a LoRA: add it in the LoRA panel instead.';
  if (keys.some((k) => k.startsWith('model.diffusion_model.') || k.startsWith('conv_in.')))
    return ' It looks like a Stable Diffusion model (checkpoint or UNet): open it as the model instead.';
  return '';
}

function layoutName(layout: ControlNetLayout): string {
  if (layout.kind === 'diffusers') return 'diffusers ControlNetModel weights';
  return layout.prefix === '' ? 'ControlNet 1.1 file (unprefixed keys)' : 'ControlNet 1.0 file (control_model. keys)';
}

const DTYPE_NAMES: Record<string, string> = { F16: 'float16', F32: 'float32', BF16: 'bfloat16' };

/** One line for people: the layout and the weights' float types (the page shows the stored size beside it). */
function describe(file: SafetensorsFile, layout: ControlNetLayout, hasConfig: boolean): string {
  const dtypes = [...new Set([...file.tensors.values()].map((t) => DTYPE_NAMES[t.dtype]).filter((d) => d))].sort();
  const what = layout.kind === 'diffusers' && hasConfig ? 'diffusers ControlNet folder' : layoutName(layout);
  return `${what}, ${dtypes.join(' and ') || 'no float tensors'}`;
}

/**
 * The ControlNet's layout, refusing a file that holds none with the core's message (naming the file
 * and the keys expected), plus what the file looks like when it is a LoRA or a model.
 */
function checkedLayout(file: SafetensorsFile): ControlNetLayout {
  try {
    const layout = controlNetLayout(file);
    controlNetCondSettings(file, layout);
    return layout;
  } catch (e) {
    if (!(e instanceof SdError)) throw e;
    throw new SdError(e.code, `${e.message}${lookalike(file)}`, { cause: e });
  }
}

async function parseConfig(blob: BlobLike, label: string): Promise<unknown> {
  let json: unknown;
  try {
    json = JSON.parse(strFromU8(new Uint8Array(await blob.arrayBuffer())));
  } catch (cause) {
    throw new SdError(
      'unsupported-model',
      `${label} is not valid JSON (${String(cause)}): expected the config.json of a diffusers ControlNet folder.`,
      { cause },
    );
  }
  parseControlNetConfig(json, label);
  return json;
}

/**
 * ControlNets kept in a {@link ModelStore} of their own (its own IndexedDB database in browsers),
 * each as an entry `controlnet:NAME` holding its `.safetensors` weights and, for a diffusers
 * folder, its `config.json`. Units name them as A1111's ControlNet "Model" names its files.
 */
export class ControlNetStore {
  private readonly entries: NamedFileStore;

  constructor(store: ModelStore) {
    this.entries = new NamedFileStore(store, ID_PREFIX);
  }

  /**
   * Checks that `files` hold a ControlNet (one `.safetensors` file of ControlNet 1.0, 1.1 or
   * diffusers keys, optionally with its folder's `config.json`; no model is needed for the check)
   * and stores it under `name`, or else the file name without `.safetensors` (a diffusers
   * folder's weights take the folder's name), replacing a ControlNet of the same name.
   */
  async add(files: readonly ControlNetInputFile[], name?: string): Promise<StoredControlNetInfo> {
    const clean = files.map((f) => ({ path: f.path.replace(/\\/g, '/').replace(/^\/+/, ''), blob: f.blob }));
    const weights = pickWeights(clean);
    const config = clean.find((f) => baseName(f.path).toLowerCase() === CONFIG);
    const chosen = name?.trim() ?? nameOf(weights.path);
    if (chosen === '' || /[/\\"]/.test(chosen)) {
      throw new SdError(
        'bad-argument',
        `"${chosen}" cannot name a ControlNet: use a name without slashes or quotes (the file or folder name).`,
      );
    }
    const file = await SafetensorsFile.open(blobByteSource(weights.blob), weights.path);
    const layout = checkedLayout(file);
    if (config !== undefined) await parseConfig(config.blob, config.path);
    const stored = [{ path: baseName(weights.path), blob: weights.blob }];
    if (config !== undefined) stored.push({ path: CONFIG, blob: config.blob });
    const info = await this.entries.put(chosen, stored);
    const hasConfig = config !== undefined;
    return { ...info, hasConfig, description: describe(file, layout, hasConfig) };
  }

  /** The stored ControlNets by name, each described from its header. */
  async list(): Promise<StoredControlNetInfo[]> {
    const infos: StoredControlNetInfo[] = [];
    for (const info of await this.entries.list()) {
      const opened = await this.open(info.name);
      if (opened === undefined) continue;
      const file = await SafetensorsFile.open(opened.weights.source, opened.weights.name);
      const hasConfig = opened.config !== undefined;
      infos.push({ ...info, hasConfig, description: describe(file, controlNetLayout(file), hasConfig) });
    }
    return infos;
  }

  /** Opens a stored ControlNet by name; undefined when none has that name. */
  async open(name: string): Promise<StoredControlNet | undefined> {
    const stored = await this.entries.open(name);
    if (stored === undefined) return undefined;
    const weightsPath = stored.paths().find((p) => EXTENSION.test(p));
    if (weightsPath === undefined)
      throw new SdError('missing-file', `The stored ControlNet ${name} has no .safetensors file. Add it again.`);
    const opened: StoredControlNet = {
      name,
      updatedAtMs: stored.record.updatedAtMs,
      weights: blobWeightsFile(await stored.readBlob(weightsPath), name),
      convertedStore: this.entries.convertedFiles(name),
    };
    if (await stored.exists(CONFIG)) {
      const label = `${name}/${CONFIG}`;
      opened.config = { json: JSON.parse(await stored.readText(CONFIG)) as unknown, label };
    }
    return opened;
  }

  delete(name: string): Promise<void> {
    return this.entries.delete(name);
  }
}

/** The one weights file among the given files: a diffusers folder's preferred one, or the only `.safetensors`. */
function pickWeights(files: readonly ControlNetInputFile[]): ControlNetInputFile {
  const candidates = files.filter((f) => EXTENSION.test(f.path));
  const listed = files.map((f) => f.path).join(', ') || 'no files';
  if (candidates.length === 0) {
    throw new SdError(
      'bad-argument',
      `No .safetensors file among ${listed}: expected a ControlNet .safetensors file (ControlNet 1.0 with control_model. keys, 1.1, or diffusers ControlNetModel weights) or a diffusers ControlNet folder (config.json + diffusion_pytorch_model.safetensors).`,
    );
  }
  for (const wanted of FOLDER_WEIGHTS) {
    const found = candidates.find((f) => baseName(f.path).toLowerCase() === wanted);
    if (found !== undefined) return found;
  }
  if (candidates.length > 1) {
    throw new SdError(
      'bad-argument',
      `Several .safetensors files (${candidates.map((f) => f.path).join(', ')}): add one ControlNet at a time.`,
    );
  }
  return candidates[0]!;
}

/** A ControlNet's name from its weights' path: the file name without `.safetensors`, or a diffusers folder's name. */
function nameOf(path: string): string {
  if (!isDiffusersWeightsName(path)) return baseName(path).replace(EXTENSION, '');
  const folder = path.split('/').slice(-2, -1)[0];
  if (folder === undefined || folder === '') {
    throw new SdError(
      'bad-argument',
      `${path} is the weights file of a diffusers ControlNet folder, whose name is the folder's: add the folder (with its config.json), or give the ControlNet a name.`,
    );
  }
  return folder;
}
