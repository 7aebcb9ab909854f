import { SdError } from '../errors.ts';
import { raceAbort, throwIfAborted } from './abort.ts';
import {
  checkStatus,
  contentLength,
  discardBody,
  isHtmlResponse,
  looksLikeHtml,
  parseContentRange,
  TransientError,
} from './http.ts';
import type { AbortSignalLike, HttpBodyReader, HttpFetch, HttpResponse } from './platform.ts';
import { backoffMs, DEFAULT_STALL_TIMEOUT_MS, type RetryPolicy } from './retry.ts';
import { formatSeconds, hostOf, StallError, StallWatch } from './stall-watch.ts';

/** The bytes to fetch: `[start, end)` of the file at `url`, cut into chunks of `chunkBytes`. */
export interface RangeRequest {
  url: string;
  /** For messages: "unet/model.onnx". */
  path: string;
  /** For messages: the model's label. */
  label: string;
  chunkBytes: number;
  /** First byte of the chunk the run starts in (a multiple of `chunkBytes`). */
  chunkStart: number;
  /** Bytes of that chunk already at hand (saved on an earlier pause); fetching starts after them. */
  head?: Uint8Array;
  /** End of the run (exclusive), a chunk boundary or the end of the file; undefined: to the end. */
  end?: number;
  /** Expected size of the whole file, when known. */
  sizeBytes?: number;
}

/** Where the bytes go. */
export interface RangeSink {
  /** A complete chunk (the file's last one may be shorter); the buffer is handed over. */
  onChunk(index: number, bytes: Uint8Array): Promise<void>;
  /** Bytes accepted (negative when accepted bytes had to be discarded), for progress. */
  onBytes(delta: number): void;
  /** The file's size, learned from the server when the request had none. */
  onSize?(sizeBytes: number): void;
}

export interface RangeContext {
  fetch: HttpFetch;
  sleep: (ms: number) => Promise<void>;
  retry: RetryPolicy;
  signal?: AbortSignalLike;
}

/**
 * Fetches a run of chunks of one file with as few requests as the connection allows: one request
 * `Range: bytes=N-` (none at offset 0), and after a cut connection, a 5xx or a discarded response,
 * another from the first byte not yet received, keeping the part of the current chunk already in
 * memory. A server that ignores Range (200 with the whole file) is read from its start and the
 * bytes already held are skipped. HTML pages and responses of the wrong length are discarded.
 * `pending()` gives the bytes of the unfinished chunk, for the caller to keep on pause or failure.
 */
export class RangeDownload {
  private buffer: Uint8Array;
  private filled: number;
  private chunkStart: number;
  private sizeBytes: number | undefined;

  constructor(
    private readonly request: RangeRequest,
    private readonly sink: RangeSink,
    private readonly ctx: RangeContext,
  ) {
    this.chunkStart = request.chunkStart;
    this.sizeBytes = request.sizeBytes;
    this.buffer = this.newBuffer();
    const head = request.head ?? new Uint8Array(0);
    this.buffer.set(head.subarray(0, this.buffer.length));
    this.filled = Math.min(head.length, this.buffer.length);
  }

  /** Bytes of the chunk being filled that are not stored yet (its first `length` bytes). */
  pending(): { chunkIndex: number; bytes: Uint8Array } {
    return { chunkIndex: this.chunkStart / this.request.chunkBytes, bytes: this.buffer.subarray(0, this.filled) };
  }

  private get position(): number {
    return this.chunkStart + this.filled;
  }

  private get limit(): number | undefined {
    return this.request.end ?? this.sizeBytes;
  }

  private newBuffer(): Uint8Array {
    const left = this.sizeBytes === undefined ? this.request.chunkBytes : this.sizeBytes - this.chunkStart;
    return new Uint8Array(Math.max(0, Math.min(this.request.chunkBytes, left)));
  }

  async run(): Promise<void> {
    const what = `The download of ${this.request.path}`;
    let failures = 0;
    for (;;) {
      throwIfAborted(this.ctx.signal, what);
      if (this.limit !== undefined && this.position >= this.limit) return this.finishRun();
      const before = this.position;
      try {
        await this.attempt();
        return this.finishRun();
      } catch (error) {
        if (error instanceof SdError) throw error;
        if (this.position > before) failures = 0;
        failures++;
        if (failures > this.ctx.retry.maxRetries) {
          if (error instanceof StallError) {
            throw new SdError(
              'network',
              `No data from ${error.host} for ${formatSeconds(error.timeoutMs)}, ${failures} tries (${this.request.path} of ${this.request.label}): check the connection, then press Generate again (or run the command again) to resume; stored chunks are kept.`,
              { cause: error },
            );
          }
          const reason = error instanceof Error ? error.message : String(error);
          throw new SdError(
            'network',
            `Could not download ${this.request.url} (${this.request.path} of ${this.request.label}): ${reason} Gave up after ${failures} attempts without progress. Check the connection and start the download again: the ${this.position} bytes received so far are kept.`,
            { cause: error },
          );
        }
        await raceAbort(this.ctx.sleep(backoffMs(this.ctx.retry, failures)), this.ctx.signal, what);
      }
    }
  }

  /** At the end of the file the last, shorter chunk is complete too. */
  private async finishRun(): Promise<void> {
    if (this.filled > 0 && this.sizeBytes !== undefined && this.position === this.sizeBytes) await this.emitChunk();
  }

  private async emitChunk(): Promise<void> {
    const bytes = this.buffer.subarray(0, this.filled);
    const index = this.chunkStart / this.request.chunkBytes;
    this.chunkStart += this.filled;
    this.filled = 0;
    this.buffer = this.newBuffer();
    await this.sink.onChunk(index, bytes);
  }

  /** Drops the unstored part of the current chunk (its bytes are suspect). */
  private discardPending(): void {
    this.sink.onBytes(-this.filled);
    this.filled = 0;
  }

  /** One request, closed when its connection stays silent for the stall timeout (a {@link StallError}). */
  private async attempt(): Promise<void> {
    const watch = new StallWatch(
      this.ctx.retry.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS,
      hostOf(this.request.url),
      this.ctx.signal,
    );
    try {
      await this.send(watch);
    } catch (error) {
      throw watch.stallError ?? error;
    } finally {
      watch.stop();
    }
  }

  private async send(watch: StallWatch): Promise<void> {
    const { url, path } = this.request;
    const start = this.position;
    const end = this.request.end;
    const headers: Record<string, string> = {};
    if (start > 0 || end !== undefined) headers['Range'] = `bytes=${start}-${end === undefined ? '' : end - 1}`;
    const what = `The download of ${path}`;
    const init = { headers, signal: watch.signal };
    let response: HttpResponse;
    try {
      response = await raceAbort(this.ctx.fetch(url, init), watch.signal, what, (late) => void discardBody(late));
    } catch (error) {
      if (error instanceof SdError) throw error;
      throw new TransientError(`the request failed (${String(error)}).`, { cause: error });
    }
    checkStatus(response, url, this.request.label);
    if (isHtmlResponse(response, path)) {
      await discardBody(response);
      throw new TransientError(`the server sent an HTML page instead of the file.`);
    }
    const skip = this.checkLength(response, start);
    if (typeof skip === 'string') {
      await discardBody(response);
      throw new TransientError(skip);
    }
    if (!response.body) throw new TransientError('the response has no body.');
    await this.readBody(response.body.getReader(), skip, start === 0, watch);
  }

  /** Checks the response's range and length; returns the leading bytes to skip, or why to discard it. */
  private checkLength(response: HttpResponse, start: number): number | string {
    let totalBytes: number | undefined;
    let skip: number;
    if (response.status === 206) {
      const header = response.headers.get('content-range');
      const range = parseContentRange(header);
      if (header === null) {
        // cross-origin responses hide Content-Range unless the host exposes it; Content-Length is
        // always readable and must then be the length asked for
        const length = contentLength(response);
        const limit = this.limit;
        if (length !== undefined && limit !== undefined && length !== limit - start)
          return `the server sent ${length} bytes for range ${start}-${limit - 1}.`;
      } else if (!range || range.start !== start) {
        return `the server sent range ${header} instead of bytes ${start}-.`;
      }
      totalBytes = range?.totalBytes;
      skip = 0;
    } else {
      // 200: the whole file, also when the server ignored our Range header
      totalBytes = contentLength(response);
      skip = start;
    }
    if (totalBytes !== undefined) {
      if (this.sizeBytes === undefined) {
        this.sizeBytes = totalBytes;
        if (this.buffer.length > totalBytes - this.chunkStart)
          this.buffer = this.buffer.slice(0, Math.max(this.filled, totalBytes - this.chunkStart));
        this.sink.onSize?.(totalBytes);
      } else if (totalBytes !== this.sizeBytes) {
        return `the server says the file has ${totalBytes} bytes, but ${this.sizeBytes} were expected (an error page, or the file changed).`;
      }
    }
    return skip;
  }

  private async readBody(
    reader: HttpBodyReader,
    skipBytes: number,
    isFileStart: boolean,
    watch: StallWatch,
  ): Promise<void> {
    let skip = skipBytes;
    let isFirst = isFileStart;
    const what = `The download of ${this.request.path}`;
    try {
      for (;;) {
        const { done, value } = await raceAbort(reader.read(), watch.signal, what);
        if (done) break;
        let bytes = value ?? new Uint8Array(0);
        if (bytes.length > 0) watch.touch();
        if (skip > 0) {
          const dropped = Math.min(skip, bytes.length);
          skip -= dropped;
          bytes = bytes.subarray(dropped);
        }
        if (bytes.length === 0) continue;
        if (isFirst && looksLikeHtml(bytes))
          throw new TransientError('the server sent an HTML page instead of the file.');
        isFirst = false;
        const limit = this.limit;
        if (limit !== undefined && this.position + bytes.length > limit) {
          if (this.request.end === undefined) {
            this.discardPending();
            throw new TransientError(
              `the server sent more than the expected ${limit} bytes (an error page, or the file changed).`,
            );
          }
          // a run that stops before the end of the file: the rest of the body is not ours
          await this.accept(bytes.subarray(0, limit - this.position));
          return;
        }
        // storing a chunk can take a while (IndexedDB): that is not the connection's silence
        watch.suspend();
        await this.accept(bytes);
        watch.touch();
      }
    } finally {
      reader.cancel().catch(() => undefined);
    }
    if (skip > 0) throw new TransientError('the connection closed before the requested range.');
    const limit = this.limit;
    if (limit !== undefined && this.position < limit)
      throw new TransientError(`the connection closed after ${this.position} of ${limit} bytes.`);
    if (this.sizeBytes === undefined) {
      // no length was announced: the end of the body is the end of the file
      this.sizeBytes = this.position;
      this.sink.onSize?.(this.position);
    }
  }

  private async accept(bytes: Uint8Array): Promise<void> {
    let rest = bytes;
    while (rest.length > 0) {
      if (this.filled === this.buffer.length) {
        // size unknown and the buffer is full: it was a whole chunk
        await this.emitChunk();
      }
      const take = Math.min(rest.length, this.buffer.length - this.filled);
      this.buffer.set(rest.subarray(0, take), this.filled);
      this.filled += take;
      this.sink.onBytes(take);
      rest = rest.subarray(take);
      if (this.filled === this.buffer.length && this.sizeBytes !== undefined) await this.emitChunk();
    }
  }
}
