import { SdError } from '../errors.ts';

/** Hugging Face's endpoint unless the page says otherwise (`hf_endpoint`, like HF_ENDPOINT for the Python client). */
export const DEFAULT_HUB_ENDPOINT = 'https://huggingface.co';

/** Where a model comes from; plain data, kept in the model's record. */
export type ModelSourceDescriptor =
  | {
      kind: 'hub';
      /** e.g. "https://huggingface.co", no trailing slash. */
      endpoint: string;
      /** "org/name". */
      repo: string;
      /** Branch, tag or commit; "main" by default. */
      revision: string;
      /** Folder inside the repository holding model_index.json; "" for the root. */
      subfolder: string;
    }
  | {
      kind: 'url';
      /** Absolute URL of a folder in the diffusers ONNX layout, ending in "/". */
      baseUrl: string;
    }
  | {
      kind: 'file';
      /**
       * Absolute URL of one `.safetensors` checkpoint: a Hugging Face `resolve` URL
       * (`{endpoint}/{org}/{name}/resolve/{revision}/{path}`) or any static host.
       */
      url: string;
    }
  | {
      kind: 'local';
      /** Name of the folder the user picked or dropped. */
      name: string;
    };

/** `org/name`, then an optional `/sub/folder`, then an optional `@revision` (which may contain "/"). */
const HUB_ID = /^([A-Za-z0-9][\w.-]*\/[\w.-]+)((?:\/[\w.-]+)*)\/?(?:@(.+))?$/;

function normalizeEndpoint(endpoint: string): string {
  const trimmed = endpoint.trim().replace(/\/+$/, '');
  if (!/^https?:\/\/[^/\s?#]+(\/[^\s?#]*)?$/i.test(trimmed)) {
    throw new SdError(
      'bad-argument',
      `Hub endpoint "${endpoint}" is not an http(s) URL. Use e.g. https://huggingface.co or https://hf-mirror.com.`,
    );
  }
  return trimmed;
}

/** File names of pickled PyTorch checkpoints, refused by name before anything is downloaded. */
const PICKLED = /\.(ckpt|pt|pth|bin)$/i;

/** `local:NAME`: a folder the user opened, by its name (no slashes: a folder's own name). */
const LOCAL_REF = /^local:([^/\\]+)$/;

/**
 * Reads a model reference as a user writes it: a Hugging Face repository id (`org/name`,
 * `org/name@revision`, `org/name/subfolder@revision`), the absolute http(s) URL of a folder in
 * the diffusers layout (ONNX or safetensors) or of one `.safetensors` checkpoint, or `local:NAME` for a folder the user opened (its files come with the
 * request, or from the store's copy; the reference equals the store's id, see {@link modelIdOf}).
 * Resolve relative URLs against the page before calling this.
 */
export function parseModelSource(text: string, hubEndpoint: string = DEFAULT_HUB_ENDPOINT): ModelSourceDescriptor {
  const value = text.trim();
  const local = LOCAL_REF.exec(value);
  if (local) return { kind: 'local', name: local[1] as string };
  if (/^https?:\/\//i.test(value)) {
    const base = value.replace(/[?#].*$/, '');
    if (/\.safetensors$/i.test(base)) return { kind: 'file', url: base };
    if (PICKLED.test(base))
      throw new SdError(
        'bad-argument',
        `${value} is a pickled checkpoint: pickle files can run code when opened, so they are never loaded. Use the model's .safetensors file.`,
      );
    return { kind: 'url', baseUrl: base.endsWith('/') ? base : `${base}/` };
  }
  const m = HUB_ID.exec(value);
  if (!m || value.includes('..')) {
    throw new SdError(
      'bad-argument',
      `Model "${value}" is neither a Hugging Face repository id nor an http(s) URL. Use e.g. stable-diffusion-v1-5/stable-diffusion-v1-5@onnx, org/name/subfolder@main, or https://host/models/sd15/.`,
    );
  }
  return {
    kind: 'hub',
    endpoint: normalizeEndpoint(hubEndpoint),
    repo: m[1] as string,
    subfolder: (m[2] ?? '').replace(/^\//, ''),
    revision: m[3] ?? 'main',
  };
}

/**
 * The Hub endpoint a page uses: its `hf_endpoint` query parameter when present, else
 * {@link DEFAULT_HUB_ENDPOINT}. `search` is `location.search` ("?model=...&hf_endpoint=...").
 */
export function hubEndpointFromQuery(search: string): string {
  for (const pair of search.replace(/^\?/, '').split('&')) {
    const eq = pair.indexOf('=');
    const name = decodeURIComponent((eq < 0 ? pair : pair.slice(0, eq)).replace(/\+/g, ' '));
    if (name === 'hf_endpoint' && eq >= 0) {
      const value = decodeURIComponent(pair.slice(eq + 1).replace(/\+/g, ' '));
      if (value !== '') return normalizeEndpoint(value);
    }
  }
  return DEFAULT_HUB_ENDPOINT;
}

/** The store's key for a model from this source: equal sources share one stored copy. */
export function modelIdOf(source: ModelSourceDescriptor): string {
  switch (source.kind) {
    case 'hub': {
      const host = source.endpoint === DEFAULT_HUB_ENDPOINT ? '' : `${source.endpoint}/`;
      const sub = source.subfolder === '' ? '' : `/${source.subfolder}`;
      return `hf:${host}${source.repo}${sub}@${source.revision}`;
    }
    case 'url':
      return `url:${source.baseUrl}`;
    case 'file':
      return `file:${source.url}`;
    case 'local':
      return `local:${source.name}`;
  }
}

/** How a source is shown to people: the repository id as typed, the URL, or the folder name. */
export function labelOf(source: ModelSourceDescriptor): string {
  switch (source.kind) {
    case 'hub': {
      const sub = source.subfolder === '' ? '' : `/${source.subfolder}`;
      const rev = source.revision === 'main' ? '' : `@${source.revision}`;
      const host = source.endpoint === DEFAULT_HUB_ENDPOINT ? '' : ` (${source.endpoint})`;
      return `${source.repo}${sub}${rev}${host}`;
    }
    case 'url':
      return source.baseUrl;
    case 'file':
      return source.url;
    case 'local':
      return source.name;
  }
}

/** The name of a single-file model's file ("model.safetensors"), the one path its store copy holds. */
export function fileNameOf(url: string): string {
  const last =
    url
      .replace(/[?#].*$/, '')
      .split('/')
      .pop() ?? '';
  let name = last;
  try {
    name = decodeURIComponent(last);
  } catch {
    // a stray % in a hand-written URL: keep the segment as it is
  }
  return name === '' || name.includes('/') ? 'model.safetensors' : name;
}

/** URL of a file under a folder URL, each path segment escaped. */
export function joinUrl(baseUrl: string, path: string): string {
  return baseUrl + path.split('/').map(encodeURIComponent).join('/');
}
