import { strFromU8 } from 'fflate';
import { SdError } from '../errors.ts';
import { layoutFiles, MODEL_INDEX, requireLayoutFiles } from '../models/diffusers-layout.ts';
import { listHubFiles } from './hub-source.ts';
import { componentGraph, inferredLayoutFiles, USUAL_COMPONENTS } from '../models/inferred-layout.ts';
import { fileNameOf, labelOf, modelIdOf, type ModelSourceDescriptor } from './model-source.ts';
import type { BlobLike } from '../io/blob-like.ts';
import type { FileSpec } from './records.ts';
import { withRetries } from './retry.ts';
import { isSafetensorsListing, safetensorsLayout } from './safetensors-plan.ts';
import { fetchSmallFile, listStaticFiles, probe, type FetchedFile, type SourceContext } from './static-source.ts';

/** The files a model consists of, as found at its source, before anything is stored. */
export interface ModelPlan {
  id: string;
  label: string;
  source: ModelSourceDescriptor;
  files: FileSpec[];
  /** Files already fetched while planning (model_index.json): stored without another request. */
  fetched: FetchedFile[];
  /** Local imports: the picked files, by path. */
  blobs?: Map<string, BlobLike>;
}

type RemoteSource = Extract<ModelSourceDescriptor, { kind: 'hub' | 'url' | 'file' }>;

/** `{endpoint}/{org}/{name}/resolve/{revision}/{path}`: a file of a Hugging Face repository. */
const HUB_RESOLVE = /^(https?:\/\/.+?)\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/i;

/**
 * One `.safetensors` checkpoint by URL, stored as a model of one file. A Hugging Face `resolve` URL
 * is looked up in its folder's tree listing (size, and the SHA-256 the download is checked
 * against); any other URL is probed for its size (HEAD, or a one-byte range).
 */
async function planFile(
  ctx: SourceContext,
  source: Extract<ModelSourceDescriptor, { kind: 'file' }>,
  label: string,
): Promise<Pick<ModelPlan, 'files' | 'fetched'>> {
  const path = fileNameOf(source.url);
  const hub = HUB_RESOLVE.exec(source.url);
  if (hub) {
    const repoPath = decodeURIComponent(hub[4]!);
    const folder = repoPath.includes('/') ? repoPath.slice(0, repoPath.lastIndexOf('/')) : '';
    const listed = await withRetries(ctx, `Listing the folder of ${label}`, () =>
      listHubFiles(
        ctx.fetch,
        { kind: 'hub', endpoint: hub[1]!, repo: hub[2]!, revision: decodeURIComponent(hub[3]!), subfolder: folder },
        ctx.signal,
      ),
    ).catch((e: unknown) => {
      // a static host whose paths happen to contain /resolve/ has no tree API: probe it instead
      if (e instanceof SdError && e.code === 'missing-file') return [];
      throw e;
    });
    const name = folder === '' ? repoPath : repoPath.slice(folder.length + 1);
    const entry = listed.find((f) => f.path === name);
    if (entry) return { files: [{ ...entry, path, url: source.url }], fetched: [] };
  }
  const found = await probe(ctx, source.url, path, label);
  if (!found)
    throw new SdError(
      'missing-file',
      `${source.url} was not found (404, or an HTML page instead of a .safetensors file). Check the address.`,
    );
  return { files: [{ path, url: source.url, ...found }], fetched: [] };
}

/**
 * Lists a Hugging Face repository through the tree API and keeps the files its model_index.json
 * says the pipeline needs (so PyTorch weights and safety checkers in the same repository are not
 * downloaded). Without an index, the layout is inferred from the ONNX models the listing shows.
 */
async function planHub(
  ctx: SourceContext,
  source: Extract<ModelSourceDescriptor, { kind: 'hub' }>,
  label: string,
): Promise<Pick<ModelPlan, 'files' | 'fetched'>> {
  const listing = await withRetries(ctx, `Listing the files of ${label}`, () =>
    listHubFiles(ctx.fetch, source, ctx.signal),
  );
  const byPath = new Map(listing.map((f) => [f.path, f]));
  const indexSpec = byPath.get(MODEL_INDEX);
  const found = USUAL_COMPONENTS.filter((c) => byPath.has(componentGraph(c)));
  if (!indexSpec?.url && found.length > 0) {
    // no index (e.g. the onnxruntime web sample's SD-Turbo): the listing says which models exist
    const layout = inferredLayoutFiles(found, label);
    return { files: layout.flatMap((f) => byPath.get(f.path) ?? []), fetched: [] };
  }
  if (!indexSpec?.url) {
    const folders = [...new Set(listing.map((f) => f.path.split('/')[0]))].slice(0, 12).join(', ');
    throw new SdError(
      'missing-file',
      `${label} has no ${MODEL_INDEX}${source.subfolder === '' ? '' : ` in ${source.subfolder}/`} and no ONNX models in the usual folders (unet/, text_encoder/, vae_decoder/; it holds: ${folders}). Give the subfolder or revision that contains a diffusers ONNX export, e.g. org/name/onnx or org/name@onnx.`,
    );
  }
  const indexBytes = await fetchSmallFile(ctx, indexSpec.url, MODEL_INDEX, label, indexSpec);
  if (!indexBytes)
    throw new SdError('missing-file', `${indexSpec.url} was listed but could not be fetched (404). Try again later.`);
  if (isSafetensorsListing((path) => byPath.has(path))) {
    // from_pretrained's layout: config.json + safetensors weights, graphs built at load
    const found = await safetensorsLayout(
      strFromU8(indexBytes),
      {
        has: (path) => Promise.resolve(byPath.has(path)),
        read: async (path) => {
          const spec = byPath.get(path);
          const bytes = spec?.url ? await fetchSmallFile(ctx, spec.url, path, label, spec) : undefined;
          if (!bytes) throw new SdError('missing-file', `${label}/${path} was listed but could not be fetched.`);
          return bytes;
        },
      },
      label,
    );
    const files = found.paths.flatMap((path) => byPath.get(path) ?? []);
    const fetched = [...found.fetched].flatMap(([path, bytes]) => {
      const spec = byPath.get(path);
      return spec ? [{ spec, bytes }] : [];
    });
    return { files, fetched: [{ spec: indexSpec, bytes: indexBytes }, ...fetched] };
  }
  const layout = layoutFiles(strFromU8(indexBytes), label);
  requireLayoutFiles(layout, (path) => byPath.has(path), label);
  const files = layout.flatMap((f) => byPath.get(f.path) ?? []);
  return { files, fetched: [{ spec: indexSpec, bytes: indexBytes }] };
}

/** Finds the files of a model on Hugging Face or a static host (network requests, with retries). */
export async function planRemoteModel(ctx: SourceContext, source: RemoteSource): Promise<ModelPlan> {
  const id = modelIdOf(source);
  const label = labelOf(source);
  const found =
    source.kind === 'hub'
      ? await planHub(ctx, source, label)
      : source.kind === 'file'
        ? await planFile(ctx, source, label)
        : await listStaticFiles(ctx, source.baseUrl, label);
  return { id, label, source, ...found };
}
