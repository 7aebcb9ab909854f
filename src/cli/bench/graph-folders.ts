import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { SdError } from '../../core/errors.ts';

/** Folders of bare graphs (model.onnx + weights), e.g. the full-size SD 1.5 graphs of shared/bench. */
export interface GraphFolders {
  unetDir: string;
  /** Absent: the VAE decode is replaced by a stand-in. */
  vaeDir: string | undefined;
}

const hasGraph = (dir: string): boolean => existsSync(join(dir, 'model.onnx'));

function subfolders(dir: string): string[] {
  return readdirSync(dir)
    .filter((name) => statSync(join(dir, name)).isDirectory())
    .sort();
}

/**
 * Whether `dir` is a complete pipeline (a diffusers ONNX layout with a text encoder) or only bare
 * graphs: a `unet` (or `*unet*`) folder and optionally `vae_decoder` (or `*vae*decoder*`), as in
 * shared/bench (`sd15-unet`, `sd15-vae-decoder`). Returns undefined for a complete pipeline.
 */
export function detectGraphFolders(dir: string): GraphFolders | undefined {
  const root = resolve(dir);
  if (!existsSync(root) || !statSync(root).isDirectory()) {
    throw new SdError(
      'missing-file',
      `Model folder ${root} does not exist: expected a diffusers ONNX layout, or a folder with unet/vae decoder graphs.`,
    );
  }
  if (
    existsSync(join(root, 'model_index.json')) ||
    hasGraph(join(root, 'text_encoder')) ||
    hasGraph(join(root, 'text_encoder_2'))
  )
    return undefined;
  const names = subfolders(root).filter((name) => hasGraph(join(root, name)));
  const unet = names.find((n) => n === 'unet') ?? names.find((n) => /unet/i.test(n));
  const vae = names.find((n) => n === 'vae_decoder') ?? names.find((n) => /vae.*decoder/i.test(n));
  if (unet === undefined) {
    throw new SdError(
      'missing-file',
      `${root} has neither a pipeline (model_index.json, text_encoder/) nor a UNet graph folder (unet/model.onnx or *unet*/model.onnx; found ${names.length > 0 ? names.join(', ') : 'no graph folders'}). Pass --model with a diffusers ONNX folder, or --unet DIR [--vae DIR].`,
    );
  }
  return { unetDir: join(root, unet), vaeDir: vae === undefined ? undefined : join(root, vae) };
}

/** `--unet DIR [--vae DIR]` given directly: each must hold a model.onnx. */
export function explicitGraphFolders(unetDir: string, vaeDir: string | undefined): GraphFolders {
  for (const [flag, dir] of [
    ['--unet', unetDir],
    ['--vae', vaeDir],
  ] as const) {
    if (dir !== undefined && !hasGraph(resolve(dir))) {
      throw new SdError(
        'missing-file',
        `${flag} ${dir}: no model.onnx there. Expected a folder holding one ONNX graph (and its weights file).`,
      );
    }
  }
  return { unetDir: resolve(unetDir), vaeDir: vaeDir === undefined ? undefined : resolve(vaeDir) };
}
