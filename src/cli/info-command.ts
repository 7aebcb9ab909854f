import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { SdError } from '../core/errors.ts';
import { missingInfotextMessage, readImageMetadata } from '../core/png/image-metadata.ts';
import { describeInfotext } from '../core/png/infotext-report.ts';
import { controlNetUnitsOfInfotext, preprocessorSpecOf } from '../core/png/infotext-controlnet.ts';

/**
 * The infotext's report with its ControlNet units read (`controlNets`, each with the preprocessor spec this
 * project would use, or null for a module it lacks) and their problems among `restore.problems`. The units'
 * keys stay in `other` as written.
 */
function reportOf(infotext: string): object {
  const { other, restore, ...typed } = describeInfotext(infotext);
  const { units, problems } = controlNetUnitsOfInfotext(infotext);
  const controlNets = units.map((unit) => ({ ...unit, preprocessor: preprocessorSpecOf(unit) ?? null }));
  return { ...typed, controlNets, other, restore: { ...restore, problems: [...restore.problems, ...problems] } };
}

/**
 * `info FILE`: the generation parameters of a PNG, JPEG or WebP as JSON on stdout (like A1111's PNG Info
 * tab): typed fields, LoRA tags, ControlNet units, every other key under `other`, and what restoring it here
 * would give.
 * @throws SdError 'bad-argument' without exactly one file, 'missing-file', 'bad-image', or 'bad-infotext'
 *   when the file has no A1111 parameters (saying so when it carries a ComfyUI workflow instead)
 */
export async function infoCommand(argv: readonly string[]): Promise<void> {
  if (argv.length !== 1 || argv[0]!.startsWith('--')) {
    throw new SdError(
      'bad-argument',
      `info takes one image file (PNG, JPEG or WebP), got ${argv.length === 0 ? 'none' : `"${argv.join(' ')}"`}. Usage: info FILE.png`,
    );
  }
  const path = argv[0]!;
  if (!existsSync(path)) throw new SdError('missing-file', `Image ${path} does not exist.`);
  const meta = readImageMetadata(new Uint8Array(await readFile(path)));
  if (meta.parameters === undefined) throw new SdError('bad-infotext', missingInfotextMessage(path, meta));
  process.stdout.write(`${JSON.stringify(reportOf(meta.parameters), null, 2)}\n`);
}
