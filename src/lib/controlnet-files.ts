import { SdError } from '../core/errors.ts';
import type { AddControlNetOptions, LocalFile } from '../../workers/api.ts';

/** What one `addControlNet` call takes from picked or dropped files. */
export type ControlNetFiles = Extract<AddControlNetOptions, { files: LocalFile[] }>;

const isWeights = (path: string): boolean => path.toLowerCase().endsWith('.safetensors');
const isConfig = (path: string): boolean => (path.split('/').at(-1) ?? '').toLowerCase() === 'config.json';

/**
 * Sorts what the user picked or dropped on the ControlNet panel into ControlNets, one `addControlNet`
 * call each:
 * - a folder (paths "name/…", a diffusers ControlNet folder) is one ControlNet named after the folder,
 *   with its `.safetensors` weights and `config.json` (other files are left out);
 * - loose `.safetensors` files are one ControlNet each, named by the worker after the file; a loose
 *   `config.json` goes with the one `.safetensors` file picked beside it.
 *
 * Throws SdError `bad-argument` naming the files when they form no ControlNet (another format, a
 * folder without weights, a config beside several files).
 */
export function controlNetsOfFiles(entries: readonly LocalFile[]): ControlNetFiles[] {
  const folders = new Map<string, LocalFile[]>();
  const loose: LocalFile[] = [];
  for (const entry of entries) {
    const slash = entry.path.indexOf('/');
    if (slash < 0) loose.push(entry);
    else {
      const name = entry.path.slice(0, slash);
      folders.set(name, [...(folders.get(name) ?? []), entry]);
    }
  }
  const result: ControlNetFiles[] = [];
  for (const [name, files] of folders) {
    const used = files.filter((f) => isWeights(f.path) || isConfig(f.path));
    if (!used.some((f) => isWeights(f.path)))
      throw new SdError(
        'bad-argument',
        `The folder ${name} holds no .safetensors file: a diffusers ControlNet folder has diffusion_pytorch_model.safetensors and config.json.`,
      );
    result.push({ files: used, name });
  }
  const others = loose.filter((f) => !isWeights(f.path) && !isConfig(f.path));
  if (others.length > 0)
    throw new SdError(
      'bad-argument',
      `${others.map((f) => f.path).join(', ')}: not a ControlNet file. Add a .safetensors file (optionally with its config.json), or the folder of a diffusers ControlNet.`,
    );
  const weights = loose.filter((f) => isWeights(f.path));
  const configs = loose.filter((f) => isConfig(f.path));
  if (configs.length > 0 && weights.length !== 1)
    throw new SdError(
      'bad-argument',
      `A config.json was picked with ${weights.length} .safetensors files: pick it with exactly one, or add the ControlNet's folder.`,
    );
  if (configs.length > 1)
    throw new SdError('bad-argument', 'Several config.json files were picked: pick one with its .safetensors file.');
  for (const file of weights) result.push({ files: [file, ...configs] });
  return result;
}
