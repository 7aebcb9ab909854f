import { strFromU8 } from 'fflate';
import { SdError } from '../errors.ts';
import { raceAbort } from './abort.ts';
import { layoutFiles, MODEL_INDEX, requireLayoutFiles } from '../models/diffusers-layout.ts';
import * as http from './http.ts';
import { checkBytes } from './file-hasher.ts';
import { componentGraph, inferredLayoutFiles, USUAL_COMPONENTS } from '../models/inferred-layout.ts';
import { MANIFEST_NAME, parseManifest } from './manifest.ts';
import { joinUrl } from './model-source.ts';
import type { HttpFetch, HttpResponse } from './platform.ts';
import type { FileSpec } from './records.ts';
import { withRetries, type RetryContext } from './retry.ts';
import { weightCandidates } from '../models/safetensors-folder.ts';
import { safetensorsLayout } from './safetensors-plan.ts';

export interface SourceContext extends RetryContext {
  fetch: HttpFetch;
}

/** A small file fetched whole while planning; kept so it is stored without a second request. */
export interface FetchedFile {
  spec: FileSpec;
  bytes: Uint8Array;
}

/** What planning found: the files to store, and those already fetched on the way. */
export interface SourceListing {
  files: FileSpec[];
  fetched: FetchedFile[];
}

const PROBE_CONCURRENCY = 4;

function request(
  ctx: SourceContext,
  url: string,
  init: { method?: 'GET' | 'HEAD'; headers?: Record<string, string> },
  what: string,
): Promise<HttpResponse> {
  const options = ctx.signal ? { ...init, signal: ctx.signal } : init;
  return raceAbort(ctx.fetch(url, options), ctx.signal, what, (late) => void http.discardBody(late));
}

/**
 * Fetches a small file whole (model_index.json, a manifest), with retries; undefined when the
 * server says it is not there (404, 410, or an HTML page). The file must match `expected`
 * (size, hashes) when given; a mismatch, or an HTML page instead of an expected file, is retried.
 */
export function fetchSmallFile(
  ctx: SourceContext,
  url: string,
  path: string,
  label: string,
  expected?: FileSpec,
  htmlRetries = 0,
): Promise<Uint8Array | undefined> {
  const expectedBytes = expected?.sizeBytes;
  const what = `Fetching ${path} of ${label}`;
  let htmlAnswers = 0;
  // an HTML answer means "not there" on hosts with a single-page fallback, but may also be a passing
  // error page: a file that must exist is asked for again `htmlRetries` times before it counts as absent
  const isAbsentHtml = (): boolean => expectedBytes === undefined && htmlAnswers++ >= htmlRetries;
  return withRetries(ctx, what, async () => {
    const response = await request(ctx, url, {}, what);
    if (response.status === 404 || response.status === 410) {
      await http.discardBody(response);
      return undefined;
    }
    http.checkStatus(response, url, label);
    if (http.isHtmlResponse(response, path)) {
      await http.discardBody(response);
      if (isAbsentHtml()) return undefined;
      throw new http.TransientError(`${url} sent an HTML page instead of ${path}.`);
    }
    const bytes = new Uint8Array(await raceAbort(response.arrayBuffer(), ctx.signal, what));
    if (expectedBytes !== undefined && bytes.length !== expectedBytes)
      throw new http.TransientError(`${url} sent ${bytes.length} bytes, ${expectedBytes} expected.`);
    if (http.looksLikeHtml(bytes)) {
      if (isAbsentHtml()) return undefined;
      throw new http.TransientError(`${url} sent an HTML page instead of ${path}.`);
    }
    const problem = expected ? await checkBytes(expected, bytes) : undefined;
    if (problem !== undefined) throw new http.TransientError(`${url} sent ${path} with ${problem}.`);
    return bytes;
  });
}

/**
 * Whether a file exists on a static host, and its size: a HEAD request, or where HEAD is refused,
 * a GET of its first byte (`Range: bytes=0-0`; the size is then the total in Content-Range).
 */
export async function probe(
  ctx: SourceContext,
  url: string,
  path: string,
  label: string,
): Promise<{ sizeBytes?: number } | undefined> {
  const what = `Checking ${path} of ${label}`;
  return withRetries(ctx, what, async () => {
    let response = await request(ctx, url, { method: 'HEAD' }, what);
    if (response.status === 405 || response.status === 501 || response.status === 403) {
      await http.discardBody(response);
      response = await request(ctx, url, { headers: { Range: 'bytes=0-0' } }, what);
    }
    if (response.status === 404 || response.status === 410) return undefined;
    http.checkStatus(response, url, label);
    const isHtml = http.isHtmlResponse(response, path);
    const size =
      response.status === 206
        ? http.parseContentRange(response.headers.get('content-range'))?.totalBytes
        : http.contentLength(response);
    await http.discardBody(response);
    if (isHtml) return undefined;
    return size === undefined ? {} : { sizeBytes: size };
  });
}

/** Runs `work` over `items`, at most `limit` at a time, keeping the order of results. */
async function mapLimited<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/**
 * Lists the files of a model folder on any static host: from its manifest ({@link MANIFEST_NAME})
 * when there is one, else from model_index.json, probing which of the files the layout allows exist;
 * without either, from the usual model folders that exist.
 */
export async function listStaticFiles(ctx: SourceContext, baseUrl: string, label: string): Promise<SourceListing> {
  const manifestBytes = await fetchSmallFile(ctx, joinUrl(baseUrl, MANIFEST_NAME), MANIFEST_NAME, label);
  if (manifestBytes) {
    const entries = parseManifest(strFromU8(manifestBytes), label);
    const files = entries.map((e): FileSpec => {
      const spec: FileSpec = { path: e.path, url: joinUrl(baseUrl, e.path), sizeBytes: e.size };
      if (e.sha256 !== undefined) spec.sha256 = e.sha256;
      return spec;
    });
    return { files, fetched: [] };
  }
  const indexUrl = joinUrl(baseUrl, MODEL_INDEX);
  const indexBytes = await fetchSmallFile(ctx, indexUrl, MODEL_INDEX, label, undefined, 1);
  if (!indexBytes) return probeInferredLayout(ctx, baseUrl, label);
  const indexSpec: FileSpec = { path: MODEL_INDEX, url: indexUrl, sizeBytes: indexBytes.length };
  const layout = layoutFiles(strFromU8(indexBytes), label).filter((f) => f.path !== MODEL_INDEX);
  const files = [
    indexSpec,
    ...(await probeFiles(
      ctx,
      baseUrl,
      layout.map((f) => f.path),
      label,
    )),
  ];
  if (!files.some((f) => f.path === 'unet/model.onnx')) {
    const safetensors = await probeSafetensorsFolder(ctx, baseUrl, indexSpec, indexBytes, label);
    if (safetensors) return safetensors;
  }
  requireLayoutFiles(layout, (path) => files.some((f) => f.path === path), label);
  return { files, fetched: [{ spec: indexSpec, bytes: indexBytes }] };
}

/**
 * A static folder in `from_pretrained`'s layout (config.json + safetensors weights): the files the
 * pipeline needs, found by probing (a static host cannot list); undefined when the folder has no
 * unet/config.json and no UNet safetensors weights.
 */
async function probeSafetensorsFolder(
  ctx: SourceContext,
  baseUrl: string,
  indexSpec: FileSpec,
  indexBytes: Uint8Array,
  label: string,
): Promise<SourceListing | undefined> {
  const probed = new Map<string, Promise<{ sizeBytes?: number } | undefined>>();
  const found = (path: string): Promise<{ sizeBytes?: number } | undefined> => {
    let result = probed.get(path);
    if (!result) probed.set(path, (result = probe(ctx, joinUrl(baseUrl, path), path, label)));
    return result;
  };
  const has = async (path: string): Promise<boolean> => (await found(path)) !== undefined;
  const unet = ['unet/config.json', ...weightCandidates('unet')];
  if (!(await Promise.all(unet.map(has))).some(Boolean)) return undefined;
  const layout = await safetensorsLayout(
    strFromU8(indexBytes),
    {
      has,
      read: async (path) => {
        const bytes = await fetchSmallFile(ctx, joinUrl(baseUrl, path), path, label);
        if (!bytes) throw new SdError('missing-file', `${label}${path} could not be fetched (404).`);
        return bytes;
      },
    },
    label,
  );
  const files: FileSpec[] = [indexSpec];
  const fetched: FetchedFile[] = [{ spec: indexSpec, bytes: indexBytes }];
  for (const path of layout.paths.filter((p) => p !== MODEL_INDEX)) {
    const spec: FileSpec = { path, url: joinUrl(baseUrl, path) };
    const bytes = layout.fetched.get(path);
    const size = bytes?.length ?? (await found(path))?.sizeBytes;
    if (size !== undefined) spec.sizeBytes = size;
    files.push(spec);
    if (bytes) fetched.push({ spec, bytes });
  }
  return { files, fetched };
}

/** The files among `paths` the host has, with their sizes where it tells them. */
async function probeFiles(
  ctx: SourceContext,
  baseUrl: string,
  paths: readonly string[],
  label: string,
): Promise<FileSpec[]> {
  const probes = await mapLimited(paths, PROBE_CONCURRENCY, (path) => probe(ctx, joinUrl(baseUrl, path), path, label));
  return paths.flatMap((path, i) => {
    const found = probes[i];
    if (!found) return [];
    const spec: FileSpec = { path, url: joinUrl(baseUrl, path) };
    if (found.sizeBytes !== undefined) spec.sizeBytes = found.sizeBytes;
    return [spec];
  });
}

/**
 * A folder without model_index.json or manifest (e.g. a copy of the onnxruntime web sample's
 * SD-Turbo): a static host cannot list, so the usual model folders are probed (404 = absent), then
 * the optional files of those found.
 */
async function probeInferredLayout(ctx: SourceContext, baseUrl: string, label: string): Promise<SourceListing> {
  const graphs = await probeFiles(ctx, baseUrl, USUAL_COMPONENTS.map(componentGraph), label);
  const found = USUAL_COMPONENTS.filter((c) => graphs.some((f) => f.path === componentGraph(c)));
  if (found.length === 0) {
    throw new SdError(
      'missing-file',
      `${label} has no ${MODEL_INDEX}, no ${MANIFEST_NAME} and no ONNX models in the usual folders (${USUAL_COMPONENTS.map((c) => `${c}/`).join(', ')}; all answered 404): expected a folder in the diffusers ONNX layout. Check the address.`,
    );
  }
  const rest = inferredLayoutFiles(found, label).filter((f) => !graphs.some((g) => g.path === f.path));
  return {
    files: [
      ...graphs,
      ...(await probeFiles(
        ctx,
        baseUrl,
        rest.map((f) => f.path),
        label,
      )),
    ],
    fetched: [],
  };
}
