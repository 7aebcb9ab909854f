import { SdError } from '../errors.ts';

/**
 * A model manifest: a small JSON file a host may put next to model_index.json to list the model's
 * files, so the store needs no probing and can verify each file. Its name is {@link MANIFEST_NAME};
 * its form:
 *
 * ```json
 * { "format": "sd-model-manifest", "version": 1,
 *   "files": [ { "path": "unet/model.onnx", "size": 1127345, "sha256": "9f2c…" }, … ] }
 * ```
 * `path` is relative to the folder (forward slashes, no ".."); `size` in bytes is required; `sha256`
 * (lower-case hex) is optional but recommended. Every listed file is downloaded, model_index.json included.
 */
export interface ModelManifest {
  format: 'sd-model-manifest';
  version: 1;
  files: ManifestFile[];
}

export interface ManifestFile {
  path: string;
  size: number;
  sha256?: string;
}

export const MANIFEST_NAME = 'sd-model-manifest.json';
const FORMAT = 'sd-model-manifest';

function invalid(label: string, why: string): SdError {
  return new SdError(
    'missing-file',
    `${label}/${MANIFEST_NAME} is not a valid model manifest: ${why}. Fix or remove it (without it the folder is read through model_index.json).`,
  );
}

/** Parses and checks a manifest; throws 'missing-file' naming the first bad entry. */
export function parseManifest(text: string, label: string): ManifestFile[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (cause) {
    throw invalid(label, `not JSON (${String(cause)})`);
  }
  const manifest = data as Partial<ModelManifest> | null;
  if (manifest?.format !== FORMAT || manifest.version !== 1 || !Array.isArray(manifest.files)) {
    throw invalid(label, `expected {"format": "${FORMAT}", "version": 1, "files": [...]}`);
  }
  const seen = new Set<string>();
  return manifest.files.map((entry: Partial<ManifestFile>, i) => {
    const { path, size, sha256 } = entry;
    if (
      typeof path !== 'string' ||
      path === '' ||
      path.startsWith('/') ||
      path.split('/').some((s) => s === '..' || s === '.' || s === '')
    ) {
      throw invalid(label, `files[${i}].path ${JSON.stringify(path)} must be a relative path like "unet/model.onnx"`);
    }
    if (seen.has(path)) throw invalid(label, `files[${i}].path "${path}" is listed twice`);
    seen.add(path);
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0)
      throw invalid(label, `files[${i}].size ${JSON.stringify(size)} must be a byte count`);
    if (sha256 !== undefined && (typeof sha256 !== 'string' || !/^[0-9a-f]{64}$/i.test(sha256))) {
      throw invalid(label, `files[${i}].sha256 must be 64 hex digits`);
    }
    return sha256 === undefined ? { path, size } : { path, size, sha256: sha256.toLowerCase() };
  });
}

/** Builds a manifest (files sorted by path), e.g. for a script that publishes a model folder. */
export function buildManifest(files: readonly ManifestFile[]): ModelManifest {
  return {
    format: FORMAT,
    version: 1,
    files: [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)),
  };
}
