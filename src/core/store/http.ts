import { SdError } from '../errors.ts';
import type { HttpResponse } from './platform.ts';

/**
 * A failure worth retrying after a pause: a network error, a 5xx or 429, a cut connection, or a
 * response that must be discarded (an HTML page, a wrong length). After the last retry the
 * downloader turns it into SdError('network') with this message.
 */
export class TransientError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TransientError';
  }
}

/** `Content-Range: bytes START-END/TOTAL` (TOTAL may be "*"). */
export interface ContentRange {
  start: number;
  end: number;
  totalBytes?: number;
}

export function parseContentRange(value: string | null): ContentRange | undefined {
  const m = value ? /^\s*bytes\s+(\d+)-(\d+)\/(\d+|\*)\s*$/i.exec(value) : null;
  if (!m) return undefined;
  const range: ContentRange = { start: Number(m[1]), end: Number(m[2]) };
  if (m[3] !== '*') range.totalBytes = Number(m[3]);
  return range;
}

/** The `rel="next"` target of a `Link` header (how the Hub paginates listings). */
export function parseLinkNext(value: string | null): string | undefined {
  for (const part of (value ?? '').split(/,(?=\s*<)/)) {
    const m = /<([^>]*)>(.*)/.exec(part.trim());
    if (m && /;\s*rel\s*=\s*"?next"?/i.test(m[2] ?? '')) return m[1];
  }
  return undefined;
}

export function contentLength(response: HttpResponse): number | undefined {
  const value = response.headers.get('content-length');
  return value !== null && /^\d+$/.test(value.trim()) ? Number(value) : undefined;
}

/**
 * Whether a response is an HTML page standing in for a model file: static hosts with a
 * single-page-app fallback, captive portals and error pages all answer 200 with HTML.
 */
export function isHtmlResponse(response: HttpResponse, path: string): boolean {
  const type = response.headers.get('content-type') ?? '';
  return /text\/html|application\/xhtml/i.test(type) && !/\.html?$/i.test(path);
}

/** Whether the first bytes of a file are an HTML document (for servers that send no content type). */
export function looksLikeHtml(bytes: Uint8Array): boolean {
  let text = '';
  for (let i = 0; i < Math.min(bytes.length, 64); i++) text += String.fromCharCode(bytes[i] as number);
  return /^\s*<(!doctype\s+html|html[\s>]|head[\s>]|body[\s>])/i.test(text);
}

/**
 * Throws for statuses that make a download fail: 404/410 as 'missing-file', 401/403 (private or
 * gated repository) as 'network', 5xx/429/408 as {@link TransientError}. Returns for 200 and 206.
 */
export function checkStatus(response: HttpResponse, url: string, label: string): void {
  const { status } = response;
  if (status === 200 || status === 206) return;
  const what = `${url} answered ${status} ${response.statusText}`.trim();
  if (status === 404 || status === 410) {
    throw new SdError(
      'missing-file',
      `${what}: the file is not there. Check the model address (${label}), revision and subfolder.`,
    );
  }
  if (status === 401 || status === 403) {
    throw new SdError(
      'network',
      `${what}: the repository is private or gated. Use a public model, or a copy of it on a static host.`,
    );
  }
  if (status >= 500 || status === 429 || status === 408) throw new TransientError(`${what}.`);
  throw new SdError('network', `${what}, which the downloader cannot use. Check the model address (${label}).`);
}

/** Reads and discards a body we will not use, so the connection is released. */
export async function discardBody(response: HttpResponse): Promise<void> {
  try {
    await response.body?.getReader().cancel();
  } catch {
    // the connection may already be gone; nothing else to release
  }
}
