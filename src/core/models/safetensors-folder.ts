import { SdError } from '../errors.ts';
import { parseAutoencoderKlConfig } from '../graphs/autoencoder-kl-config.ts';
import { parseClipTextConfig } from '../graphs/clip-text-config.ts';
import { parseUnet2dConditionConfig } from '../graphs/unet-config.ts';
import { SafetensorsFile } from '../safetensors/safetensors-file.ts';
import { buildComponentGraph, type ComponentSpec, type ComponentWeightsSource } from './component-graph.ts';
import { builtModelFiles } from './built-model-files.ts';
import { MODEL_INDEX } from './diffusers-layout.ts';
import { readJson, type ComponentGraph, type ModelFiles } from './model-files.ts';
import type { BaseUnet, BuiltModel, BuiltModelOptions } from './single-file-model.ts';
import { joinShards } from './sharded-weights.ts';
import type { WeightsFile } from './weights-file.ts';

/** The weights file names diffusers writes per component folder (`save_pretrained`), without extension. */
const WEIGHT_NAMES: Record<string, string> = {
  unet: 'diffusion_pytorch_model',
  vae: 'diffusion_pytorch_model',
  text_encoder: 'model',
  text_encoder_2: 'model',
};

/**
 * The files a component's weights may be in, in the order they are preferred: the float16 variant
 * (half the download; widened at load where the GPU needs float32), then the full one, each as one
 * file or shards with an index. Pickled `.bin` files are never read.
 */
export function weightCandidates(dir: string): string[] {
  const base = `${dir}/${WEIGHT_NAMES[dir] ?? 'model'}`;
  return ['.fp16.safetensors', '.fp16.safetensors.index.json', '.safetensors', '.safetensors.index.json'].map(
    (ext) => base + ext,
  );
}

/**
 * Whether `files` is a diffusers folder in `from_pretrained`'s layout rather than an ONNX export: a
 * model_index.json, no unet/model.onnx, and a unet/config.json or UNet safetensors weights (a
 * missing weights file is then reported as such, naming the files looked for).
 */
export async function isSafetensorsFolder(files: ModelFiles): Promise<boolean> {
  if (!(await files.exists(MODEL_INDEX)) || (await files.exists('unet/model.onnx'))) return false;
  if (await files.exists('unet/config.json')) return true;
  for (const path of weightCandidates('unet')) if (await files.exists(path)) return true;
  return false;
}

/** The components the pipeline needs that model_index.json lists (`[library, class]`, not `[null, null]`). */
function listedComponents(index: Record<string, unknown>): string[] {
  return ['text_encoder', 'text_encoder_2', 'unet', 'vae'].filter((name) => {
    const entry = index[name];
    return Array.isArray(entry) && entry[1] !== null && entry[1] !== undefined;
  });
}

/**
 * Opens a diffusers folder with safetensors weights (what `from_pretrained` reads without ONNX):
 * model_index.json, each component's config.json and weights (the `.fp16` variant where present,
 * sharded ones through their `.safetensors.index.json`); safety_checker, feature_extractor and
 * `*.bin` files are never read. Graphs are built when the loader opens each component.
 * @param openWeights opens a weights file of the folder by path, for random access and mounting.
 */
export async function openSafetensorsFolder(
  files: ModelFiles,
  openWeights: (path: string) => Promise<WeightsFile>,
  options: BuiltModelOptions = {},
): Promise<BuiltModel> {
  const index = await readJson<Record<string, unknown>>(files, MODEL_INDEX);
  const listed = listedComponents(index);
  for (const required of ['unet', 'vae']) {
    if (!listed.includes(required))
      throw new SdError(
        'unsupported-model',
        `${files.label}/${MODEL_INDEX} lists no ${required}: expected a Stable Diffusion pipeline.`,
      );
  }
  const opened = new Map<string, Promise<ComponentWeightsSource>>();
  const weightsOf = (dir: string): Promise<ComponentWeightsSource> => {
    let source = opened.get(dir);
    if (source === undefined) {
      source = openComponentWeights(files, dir, openWeights);
      opened.set(dir, source);
    }
    return source;
  };
  const configOf = async (dir: string): Promise<unknown> => {
    const path = `${dir}/config.json`;
    if (!(await files.exists(path)))
      throw new SdError('missing-file', `Missing ${path} in ${files.label}: every diffusers component folder has one.`);
    return readJson<unknown>(files, path);
  };
  const encoder2 = listed.includes('text_encoder_2')
    ? parseClipTextConfig(await configOf('text_encoder_2'), 'text_encoder_2/config.json', true)
    : undefined;
  const vae = parseAutoencoderKlConfig(await configOf('vae'), 'vae/config.json');
  const build = (name: string, dir: string, spec: () => Promise<ComponentSpec>) => async (): Promise<ComponentGraph> =>
    buildComponentGraph(name, await spec(), await weightsOf(dir), options.convertedStore, options.loras);
  const unetConfig = async (): Promise<BaseUnet> => ({
    config: parseUnet2dConditionConfig(await configOf('unet'), 'unet/config.json'),
    textEmbedsDim: encoder2?.projectionDim,
  });
  const components: Record<string, () => Promise<ComponentGraph>> = {
    unet: build('unet', 'unet', async () => ({
      kind: 'unet',
      ...(await unetConfig()),
      controlResiduals: options.controlResiduals,
    })),
    vae_decoder: build('vae_decoder', 'vae', () => Promise.resolve({ kind: 'vae_decoder', config: vae })),
    vae_encoder: build('vae_encoder', 'vae', () => Promise.resolve({ kind: 'vae_encoder', config: vae })),
  };
  if (listed.includes('text_encoder'))
    components['text_encoder'] = build('text_encoder', 'text_encoder', async () => ({
      kind: 'text_encoder',
      config: parseClipTextConfig(await configOf('text_encoder'), 'text_encoder/config.json'),
    }));
  if (encoder2 !== undefined)
    components['text_encoder_2'] = build('text_encoder_2', 'text_encoder_2', () =>
      Promise.resolve({ kind: 'text_encoder', config: encoder2 }),
    );
  const texts = new Map<string, string>();
  if (options.predictionType !== undefined) {
    const path = 'scheduler/scheduler_config.json';
    const own = (await files.exists(path)) ? await readJson<Record<string, unknown>>(files, path) : undefined;
    if (own !== undefined) texts.set(path, JSON.stringify({ ...own, prediction_type: options.predictionType }));
  }
  return {
    files: builtModelFiles({ label: files.label, texts, base: files, components }),
    description: `diffusers safetensors folder (${listed.join(', ')})`,
    baseUnet: unetConfig,
  };
}

/** Opens the weights of one component folder: the preferred candidate, its shards joined when indexed. */
async function openComponentWeights(
  files: ModelFiles,
  dir: string,
  openWeights: (path: string) => Promise<WeightsFile>,
): Promise<ComponentWeightsSource> {
  const candidates = weightCandidates(dir);
  let found: string | undefined;
  for (const path of candidates) {
    if (await files.exists(path)) {
      found = path;
      break;
    }
  }
  if (found === undefined) {
    const base = `${dir}/${WEIGHT_NAMES[dir] ?? 'model'}`;
    const pickled = (await files.exists(`${base}.bin`)) || (await files.exists(`${base}.ckpt`));
    throw new SdError(
      'missing-file',
      `${files.label} has no weights for ${dir}: looked for ${candidates.join(', ')}.` +
        (pickled
          ? ` It has pickled ${base}.bin weights, which are never opened (pickle files can run code): use a repository or revision with safetensors weights.`
          : ' Download the folder again, or pass the repository revision that holds safetensors weights.'),
    );
  }
  let weightsFile: WeightsFile;
  if (found.endsWith('.index.json')) {
    const shardIndex = await readJson<{ weight_map?: Record<string, string> }>(files, found);
    const shards = [...new Set(Object.values(shardIndex.weight_map ?? {}))];
    if (shards.length === 0)
      throw new SdError('unsupported-model', `${files.label}/${found} has no "weight_map" entries.`);
    weightsFile = await joinShards(
      await Promise.all(shards.map((s) => openWeights(`${dir}/${s}`))),
      `${files.label}/${found}`,
    );
  } else weightsFile = await openWeights(found);
  return { file: await SafetensorsFile.open(weightsFile.source, weightsFile.name), weightsFile };
}
