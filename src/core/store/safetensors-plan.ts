import { strFromU8 } from 'fflate';
import { SdError } from '../errors.ts';
import { MODEL_INDEX } from '../models/diffusers-layout.ts';
import { weightCandidates } from '../models/safetensors-folder.ts';

/** How planning sees a source: which files exist, and the bytes of a small one (a shard index). */
export interface FolderProbe {
  has(path: string): Promise<boolean>;
  read(path: string): Promise<Uint8Array>;
}

/** The files to store for a diffusers safetensors folder, and the small ones read on the way. */
export interface SafetensorsLayout {
  paths: string[];
  /** Shard indexes read while planning, by path: stored without another request. */
  fetched: Map<string, Uint8Array>;
}

/** Components with weights the pipeline runs, in diffusers' folder names. */
const WEIGHT_COMPONENTS = ['text_encoder', 'text_encoder_2', 'unet', 'vae'];
const TOKENIZERS = ['tokenizer', 'tokenizer_2'];
const TOKENIZER_EXTRAS = ['tokenizer_config.json', 'special_tokens_map.json'];

/**
 * Whether a source whose files are `has` holds a diffusers folder with safetensors weights rather
 * than an ONNX export: no unet/model.onnx, and a unet/config.json or UNet safetensors weights.
 */
export function isSafetensorsListing(has: (path: string) => boolean): boolean {
  if (has('unet/model.onnx')) return false;
  return has('unet/config.json') || weightCandidates('unet').some(has);
}

/** The components model_index.json lists as `[library, class]` (not `[null, null]`). */
function listedNames(index: unknown, label: string): Set<string> {
  if (typeof index !== 'object' || index === null || Array.isArray(index))
    throw new SdError(
      'missing-file',
      `${label}/${MODEL_INDEX} is not a JSON object: expected a diffusers model index.`,
    );
  const names = new Set<string>();
  for (const [name, value] of Object.entries(index))
    if (!name.startsWith('_') && Array.isArray(value) && value[1] !== null && value[1] !== undefined) names.add(name);
  return names;
}

/**
 * The files `from_pretrained` needs from a diffusers folder with safetensors weights, and nothing
 * else: model_index.json; for each of text_encoder, text_encoder_2, unet and vae its config.json and
 * one weights file, the `.fp16` variant when the folder has it (the same choice the loader makes,
 * see {@link weightCandidates}), a sharded one as its index plus the shards the index names; each
 * tokenizer as vocab.json + merges.txt or else tokenizer.json; the scheduler config. Pickled
 * `.bin`/`.ckpt` weights, other variants, ONNX files, safety_checker/ and feature_extractor/ are
 * never listed. Throws 'missing-file' naming what a needed component lacks.
 */
export async function safetensorsLayout(
  indexText: string,
  probe: FolderProbe,
  label: string,
): Promise<SafetensorsLayout> {
  let index: unknown;
  try {
    index = JSON.parse(indexText);
  } catch (cause) {
    throw new SdError('missing-file', `${label}/${MODEL_INDEX} is not valid JSON (${String(cause)}).`, { cause });
  }
  const listed = listedNames(index, label);
  for (const required of ['unet', 'vae'])
    if (!listed.has(required))
      throw new SdError(
        'missing-file',
        `${label}/${MODEL_INDEX} lists no ${required}: expected a Stable Diffusion pipeline in the diffusers layout.`,
      );
  const paths: string[] = [MODEL_INDEX];
  const fetched = new Map<string, Uint8Array>();
  const missing: string[] = [];
  for (const dir of WEIGHT_COMPONENTS.filter((c) => listed.has(c))) {
    const config = `${dir}/config.json`;
    if (await probe.has(config)) paths.push(config);
    else missing.push(config);
    const weights = await firstExisting(probe, weightCandidates(dir));
    if (weights === undefined) {
      const pickled = (await probe.has(`${dir}/diffusion_pytorch_model.bin`)) || (await probe.has(`${dir}/model.bin`));
      missing.push(
        `${dir} weights (one of ${weightCandidates(dir).join(', ')}${pickled ? '; its pickled .bin weights are never downloaded' : ''})`,
      );
      continue;
    }
    paths.push(weights);
    if (weights.endsWith('.index.json')) {
      const bytes = await probe.read(weights);
      fetched.set(weights, bytes);
      for (const shard of shardNames(strFromU8(bytes), `${label}/${weights}`)) {
        const path = `${dir}/${shard}`;
        if (await probe.has(path)) paths.push(path);
        else missing.push(path);
      }
    }
  }
  for (const dir of TOKENIZERS.filter((t) => listed.has(t))) {
    const pair = [`${dir}/vocab.json`, `${dir}/merges.txt`];
    if ((await probe.has(pair[0]!)) && (await probe.has(pair[1]!))) paths.push(...pair);
    else if (await probe.has(`${dir}/tokenizer.json`)) paths.push(`${dir}/tokenizer.json`);
    else missing.push(`${dir}/vocab.json + merges.txt (or ${dir}/tokenizer.json)`);
    for (const extra of TOKENIZER_EXTRAS) if (await probe.has(`${dir}/${extra}`)) paths.push(`${dir}/${extra}`);
  }
  if (listed.has('scheduler')) {
    const scheduler = 'scheduler/scheduler_config.json';
    if (await probe.has(scheduler)) paths.push(scheduler);
    else missing.push(scheduler);
  }
  if (missing.length > 0)
    throw new SdError(
      'missing-file',
      `${label} is a diffusers folder with safetensors weights but lacks ${missing.join(', ')}. Check the repository (or its revision and subfolder).`,
    );
  return { paths, fetched };
}

async function firstExisting(probe: FolderProbe, paths: readonly string[]): Promise<string | undefined> {
  for (const path of paths) if (await probe.has(path)) return path;
  return undefined;
}

/** The shard files a `*.safetensors.index.json` names in its weight_map, each once. */
export function shardNames(text: string, what: string): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw new SdError('unsupported-model', `${what} is not valid JSON (${String(cause)}).`, { cause });
  }
  const map = (parsed as { weight_map?: unknown } | null)?.weight_map;
  const names =
    typeof map === 'object' && map !== null ? [...new Set(Object.values(map as Record<string, unknown>))] : [];
  if (names.length === 0 || names.some((n) => typeof n !== 'string' || n.includes('/') || !n.endsWith('.safetensors')))
    throw new SdError(
      'unsupported-model',
      `${what} has no usable "weight_map": expected shard file names ending in .safetensors, next to the index.`,
    );
  return names as string[];
}
