import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { SdError } from '../core/errors.ts';
import { openControlNet, type OpenedControlNet } from '../core/models/controlnet-model.ts';
import type { BaseUnet } from '../core/models/single-file-model.ts';
import type { ControlUnit } from '../core/pipeline/request.ts';
import { parsePreprocessor, type Preprocessor } from '../core/preprocess/preprocessor.ts';
import { numberArg, stringArg, type ParsedArgs } from './args.ts';
import { nodeWeightsFile } from './node-weights-file.ts';
import { readPngArg } from './preprocess-command.ts';

/** The ControlNet options of `generate`. */
export const CONTROLNET_OPTIONS = [
  'controlnet',
  'controlnet-config',
  'control-image',
  'control-weight',
  'control-start',
  'control-end',
  'control-preprocess',
];

/** The weights file names of a diffusers ControlNet folder, in the order they are preferred. */
const FOLDER_WEIGHTS = ['diffusion_pytorch_model.fp16.safetensors', 'diffusion_pytorch_model.safetensors'];

/** A ControlNet given on the command line, opened against the model, with its unit's settings. */
export interface CliControlNet {
  opened: OpenedControlNet;
  /** The file or folder name (A1111's "Model"). */
  name: string;
  unit: ControlUnit;
  preprocessor: Preprocessor;
  close(): Promise<void>;
}

/** Whether `generate`'s arguments ask for a ControlNet; refuses control options without `--controlnet`. */
export function wantsControlNet(args: ParsedArgs): boolean {
  const given = CONTROLNET_OPTIONS.filter((o) => o !== 'controlnet' && args.has(o));
  if (args.has('controlnet')) {
    if (!args.has('control-image'))
      throw new SdError(
        'bad-argument',
        'Missing --control-image: --controlnet needs the control image (PNG) it follows.',
      );
    return true;
  }
  if (given.length > 0)
    throw new SdError(
      'bad-argument',
      `${given.map((o) => `--${o}`).join(', ')} ${given.length === 1 ? 'applies' : 'apply'} only with --controlnet FILE|DIR (a ControlNet .safetensors file or diffusers ControlNet folder).`,
    );
  return false;
}

async function readConfig(dir: string): Promise<{ json: unknown; label: string }> {
  const path = resolve(dir, 'config.json');
  if (!existsSync(path))
    throw new SdError(
      'missing-file',
      `--controlnet-config ${dir} has no config.json: expected a diffusers ControlNet folder.`,
    );
  try {
    return { json: JSON.parse(await readFile(path, 'utf8')) as unknown, label: path };
  } catch (cause) {
    throw new SdError('unsupported-model', `${path} is not valid JSON (${String(cause)}).`, { cause });
  }
}

/**
 * Opens `--controlnet FILE|DIR` for the model's UNet (refusing one that does not fit) and reads
 * `--control-image` (preprocessed by `--control-preprocess`) and the unit's weight, start and end.
 */
export async function openCliControlNet(args: ParsedArgs, base: BaseUnet): Promise<CliControlNet> {
  const path = resolve(stringArg(args, 'controlnet')!);
  if (!existsSync(path))
    throw new SdError(
      'missing-file',
      `--controlnet ${path} does not exist: expected a ControlNet .safetensors file or diffusers ControlNet folder.`,
    );
  let weightsPath = path;
  let configDir = stringArg(args, 'controlnet-config');
  if (statSync(path).isDirectory()) {
    const found = FOLDER_WEIGHTS.map((f) => resolve(path, f)).find((f) => existsSync(f));
    if (found === undefined)
      throw new SdError(
        'missing-file',
        `--controlnet ${path} has no ${FOLDER_WEIGHTS.join(' or ')}: expected a diffusers ControlNet folder.`,
      );
    weightsPath = found;
    configDir ??= path;
  }
  const preprocessor = parsePreprocessor(stringArg(args, 'control-preprocess') ?? 'none');
  const weight = numberArg(args, 'control-weight', false) ?? 1;
  const start = numberArg(args, 'control-start', false) ?? 0;
  const end = numberArg(args, 'control-end', false) ?? 1;
  if (!(weight >= 0 && weight <= 10))
    throw new SdError(
      'bad-argument',
      `--control-weight ${weight} is not allowed: use a number from 0 to 10 (1 is typical).`,
    );
  if (!(start >= 0 && start < end && end <= 1))
    throw new SdError(
      'bad-argument',
      `--control-start ${start} and --control-end ${end} are not allowed: use fractions of the steps with 0 ≤ start < end ≤ 1.`,
    );
  const png = await readPngArg(stringArg(args, 'control-image')!, '--control-image');
  const image = await preprocessor.run({ rgb: png.rgb, width: png.width, height: png.height });
  const config = configDir === undefined ? undefined : await readConfig(configDir);
  const weights = await nodeWeightsFile(weightsPath);
  try {
    const opened = await openControlNet(weights, base, { config });
    return {
      opened,
      name: basename(path).replace(/\.safetensors$/i, ''),
      unit: { image, weight, start, end },
      preprocessor,
      close: () => weights.close(),
    };
  } catch (e) {
    await weights.close();
    throw e;
  }
}
