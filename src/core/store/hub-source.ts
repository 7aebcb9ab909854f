import { SdError } from '../errors.ts';
import { raceAbort } from './abort.ts';
import { checkStatus, discardBody, parseLinkNext, TransientError } from './http.ts';
import type { ModelSourceDescriptor } from './model-source.ts';
import type { AbortSignalLike, HttpFetch } from './platform.ts';
import type { FileSpec } from './records.ts';

type HubSource = Extract<ModelSourceDescriptor, { kind: 'hub' }>;

/** One entry of `GET /api/models/{repo}/tree/{revision}`, as the Hub sends it. */
interface HubTreeEntry {
  type: 'file' | 'directory';
  path: string;
  size?: number;
  /** git blob id (for LFS files, that of the pointer). */
  oid?: string;
  /** Present for files stored in LFS (or Xet); `oid` is then the content's SHA-256. */
  lfs?: { oid?: string; size?: number };
}

const quote = (segment: string): string => encodeURIComponent(segment);
const quotePath = (path: string): string => path.split('/').map(quote).join('/');

/** `{endpoint}/{repo}/resolve/{revision}/{path}`: the download URL (redirects to a CDN for large files). */
export function hubResolveUrl(source: HubSource, repoPath: string): string {
  return `${source.endpoint}/${source.repo}/resolve/${quote(source.revision)}/${quotePath(repoPath)}`;
}

/** `{endpoint}/api/models/{repo}/tree/{revision}[/{subfolder}]?recursive=true`: the first page of the listing. */
export function hubTreeUrl(source: HubSource): string {
  const sub = source.subfolder === '' ? '' : `/${quotePath(source.subfolder)}`;
  return `${source.endpoint}/api/models/${source.repo}/tree/${quote(source.revision)}${sub}?recursive=true`;
}

function describe(source: HubSource): string {
  const sub = source.subfolder === '' ? '' : ` folder ${source.subfolder}`;
  return `${source.repo}@${source.revision}${sub} on ${source.endpoint}`;
}

async function fetchPage(
  fetch: HttpFetch,
  url: string,
  source: HubSource,
  signal: AbortSignalLike | undefined,
): Promise<{ entries: HubTreeEntry[]; next?: string }> {
  const what = `Listing ${source.repo}`;
  const response = await raceAbort(
    fetch(url, signal ? { signal } : {}),
    signal,
    what,
    (late) => void discardBody(late),
  );
  if (response.status === 404) {
    await discardBody(response);
    throw new SdError(
      'missing-file',
      `${describe(source)} was not found (${url} answered 404). Check the repository id, the revision and the subfolder; private repositories cannot be used.`,
    );
  }
  checkStatus(response, url, source.repo);
  const text = await raceAbort(response.text(), signal, what);
  let entries: unknown;
  try {
    entries = JSON.parse(text);
  } catch (cause) {
    throw new TransientError(`the listing at ${url} is not JSON (${text.slice(0, 80)}…).`, { cause });
  }
  if (!Array.isArray(entries)) throw new TransientError(`the listing at ${url} is not a JSON array.`);
  const next = parseLinkNext(response.headers.get('link'));
  return next === undefined ? { entries: entries as HubTreeEntry[] } : { entries: entries as HubTreeEntry[], next };
}

/**
 * Lists every file under the source's subfolder through the Hub's tree API, following the `Link`
 * header's next pages. Paths are relative to the subfolder; each file carries its resolve URL, its
 * size, and the SHA-256 (LFS files) or git blob id (other files) the download is verified against.
 */
export async function listHubFiles(fetch: HttpFetch, source: HubSource, signal?: AbortSignalLike): Promise<FileSpec[]> {
  const prefix = source.subfolder === '' ? '' : `${source.subfolder}/`;
  const files: FileSpec[] = [];
  const seenPages = new Set<string>();
  for (let url: string | undefined = hubTreeUrl(source); url !== undefined;) {
    // a server that links a page to itself would otherwise keep us here forever
    if (seenPages.has(url)) break;
    seenPages.add(url);
    const page = await fetchPage(fetch, url, source, signal);
    for (const entry of page.entries) {
      if (entry.type !== 'file' || typeof entry.path !== 'string' || !entry.path.startsWith(prefix)) continue;
      const spec: FileSpec = { path: entry.path.slice(prefix.length), url: hubResolveUrl(source, entry.path) };
      const size = entry.lfs?.size ?? entry.size;
      if (typeof size === 'number') spec.sizeBytes = size;
      if (entry.lfs) {
        if (typeof entry.lfs.oid === 'string' && /^[0-9a-f]{64}$/i.test(entry.lfs.oid))
          spec.sha256 = entry.lfs.oid.toLowerCase();
      } else if (typeof entry.oid === 'string' && /^[0-9a-f]{40}$/i.test(entry.oid)) {
        spec.gitOid = entry.oid.toLowerCase();
      }
      files.push(spec);
    }
    url = page.next;
  }
  if (files.length === 0) {
    throw new SdError('missing-file', `${describe(source)} has no files. Check the revision and the subfolder.`);
  }
  return files;
}
