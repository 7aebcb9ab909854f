import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { SdError } from '../core/errors.ts';
import { openControlNet, type OpenedControlNet } from '../core/models/controlnet-model.ts';
import type { BaseUnet } from '../core/models/single-file-model.ts';
import type { ControlUnit } from '../core/pipeline/request.ts';
import {
  controlNetInfotextUnit,
  controlNetUnitsOfInfotext,
  preprocessorSpecOf,
  type ControlNetInfotextUnit,
} from '../core/png/infotext-controlnet.ts';
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
  /** The unit as the PNG's infotext records it (A1111's `ControlNet 0`). */
  infotext: ControlNetInfotextUnit;
  close(): Promise<void>;
}

/** A unit restored from `--from-png`, with the index of the infotext key it came from. */
export type RestoredControlNet = ControlNetInfotextUnit & { index: number };

/**
 * The ControlNet unit an image's infotext records (`ControlNet 0`, or the lowest index there is), reported to
 * stderr with the problems of reading it; undefined when it records none. The CLI applies one ControlNet, so
 * further units are named as not restored.
 */
export function restoredControlNet(infotext: string, path: string): RestoredControlNet | undefined {
  const { units, problems } = controlNetUnitsOfInfotext(infotext);
  for (const problem of problems) process.stderr.write(`${problem}\n`);
  const [unit, ...rest] = units;
  if (unit === undefined) return undefined;
  process.stderr.write(
    `Restored from ${path}: ControlNet ${unit.index} (preprocessor ${preprocessorSpecOf(unit) ?? unit.module}, weight ${unit.weight}, start ${unit.start}, end ${unit.end}; the model and image come from --controlnet and --control-image)\n`,
  );
  if (rest.length > 0)
    process.stderr.write(
      `Not restored: ${rest.map((u) => `ControlNet ${u.index}`).join(', ')} (the command line applies one ControlNet)\n`,
    );
  return unit;
}

/** `--control-preprocess`, else the restored unit's module where this project has it, else none. */
function preprocessorSpec(args: ParsedArgs, restored: ControlNetInfotextUnit | undefined): string {
  const given = stringArg(args, 'control-preprocess');
  if (given !== undefined || restored === undefined) return given ?? 'none';
  const spec = preprocessorSpecOf(restored);
  if (spec === undefined)
    process.stderr.write(
      `The restored ControlNet's preprocessor "${restored.module}" is not available here, so the control image is used as it is (--control-preprocess chooses one: canny:LOW:HIGH, invert, none).\n`,
    );
  return spec ?? 'none';
}

/**
 * Takes the ControlNet units out of `argv` (Multi-ControlNet): each `--controlnet` starts a unit, and
 * the ControlNet options after it (up to the next `--controlnet`) are that unit's. With one
 * `--controlnet` its options may stand anywhere, as with any option. Without `--controlnet` nothing is
 * taken, so that a stray control option is refused by {@link wantsControlNet}.
 * @returns each unit's arguments (`--controlnet X --control-image Y …`) and the other arguments
 */
export function takeControlNetUnits(argv: readonly string[]): { units: string[][]; rest: string[] } {
  const nameOf = (arg: string): string | undefined => {
    if (!arg.startsWith('--')) return undefined;
    const name = arg.slice(2).split('=')[0]!;
    return CONTROLNET_OPTIONS.includes(name) ? name : undefined;
  };
  const count = argv.filter((a) => nameOf(a) === 'controlnet').length;
  if (count === 0) return { units: [], rest: [...argv] };
  const units: string[][] = [];
  const rest: string[] = [];
  const loose: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const name = nameOf(arg);
    if (name === undefined) {
      rest.push(arg);
      continue;
    }
    const option = arg.includes('=') ? [arg] : [arg, ...(i + 1 < argv.length ? [argv[++i]!] : [])];
    if (name === 'controlnet') units.push(option);
    else if (units.length > 0) units[units.length - 1]!.push(...option);
    else loose.push(...option);
  }
  if (loose.length > 0) {
    if (count > 1)
      throw new SdError(
        'bad-argument',
        `${loose[0]} comes before the first --controlnet: with several ControlNets, give each unit's options after its own --controlnet.`,
      );
    units[0]!.push(...loose);
  }
  return { units, rest };
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
 * `--control-image` (preprocessed by `--control-preprocess`) and the unit's weight, start and end; what the
 * command line leaves out comes from the `restored` unit (`--from-png`), then from A1111's defaults.
 */
export async function openCliControlNet(
  args: ParsedArgs,
  base: BaseUnet,
  restored?: ControlNetInfotextUnit,
): Promise<CliControlNet> {
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
  const preprocessor = parsePreprocessor(preprocessorSpec(args, restored));
  const weight = numberArg(args, 'control-weight', false) ?? restored?.weight ?? 1;
  const start = numberArg(args, 'control-start', false) ?? restored?.start ?? 0;
  const end = numberArg(args, 'control-end', false) ?? restored?.end ?? 1;
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
  const file = await nodeWeightsFile(weightsPath);
  // a folder's ControlNet is named by the folder in messages, as in the infotext
  const weights = weightsPath === path ? file : { ...file, name: basename(path) };
  try {
    const opened = await openControlNet(weights, base, { config });
    const name = basename(path).replace(/\.safetensors$/i, '');
    return {
      opened,
      name,
      unit: { image, weight, start, end },
      preprocessor,
      infotext: controlNetInfotextUnit(name, preprocessor.id, weight, start, end),
      close: () => weights.close(),
    };
  } catch (e) {
    await weights.close();
    throw e;
  }
}
