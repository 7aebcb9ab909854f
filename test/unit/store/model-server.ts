import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, relative } from 'node:path';
import { FIXTURES, MODELS } from '../../fixtures.ts';
import { ORT_WEB_SOURCE, ortWebPaths } from '../models/ort-web-layout.ts';

/**
 * A local HTTP server for the store's tests. It serves the fixture models
 *  - like the Hugging Face Hub: `/api/models/test/{model}/tree/{rev}[/{sub}]?recursive=true` (paginated
 *    by a Link header; sizes, git oids, and LFS sha256 computed at startup) and
 *    `/test/{model}/resolve/{rev}/{path}` (LFS files 302-redirect to `/cdn/...`, which honours Range);
 *  - as a plain static folder: `/static/{model}/{path}`;
 *  - as a static folder with a manifest: `/manifest/{model}/...` (sd-model-manifest.json generated);
 *  - and `sd-turbo-ort-web`, a fixture re-laid out without model_index.json (see derivedFiles);
 * and injects faults into file responses on request. It counts every body byte it writes. Every
 * answer allows any origin (CORS), so a page on another port can download from it.
 */

/** Faults for upcoming file responses; each counter is consumed by the responses it hits. */
export interface Faults {
  /** Responses cut (socket destroyed) at a random offset of their body. */
  cuts: number;
  /** Responses answered with 500. */
  errors500: number;
  /** Responses answered with an HTML page and status 200. */
  htmlPages: number;
  /** Responses with one byte flipped at a random offset. */
  corruptions: number;
  /** Responses that go silent with the connection left open (a stalled download); see `hangStage`. */
  hangs: number;
  /** Where a hang starts: before the status line (nothing at all) or after the headers and `hangAfterBytes` body bytes. */
  hangStage: 'before-headers' | 'after-headers';
  /** Body bytes a hang after the headers still sends. */
  hangAfterBytes: number;
  /** Serve every GET as 200 with the whole file, ignoring Range. */
  ignoreRange: boolean;
  /** Only responses whose body would be at least this long are hit (cuts, corruptions). */
  minBodyBytes: number;
  /** Only requests for paths ending so are hit (all when undefined). */
  pathSuffix?: string;
}

export interface LoggedRequest {
  method: string;
  url: string;
  range?: string;
  status: number;
  bodyBytes: number;
}

interface FixtureFile {
  path: string;
  bytes: Buffer;
  sha256: string;
  gitOid: string;
  isLfs: boolean;
}

const LFS = /\.(onnx|pb|onnx_data|data|safetensors|bin)$/;
const PAGE_SIZE = 8;
const WRITE_PIECE = 16 * 1024;

function listFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = join(dir, name);
    return statSync(full).isDirectory() ? listFiles(full) : [full];
  });
}

/** All files of a fixture model with the hashes the Hub would list, by path. */
export function fixtureFiles(model: string): Map<string, FixtureFile> {
  return filesAt(join(MODELS, model));
}

/** A served file with the hashes the Hub would list. */
function fixtureFile(path: string, bytes: Buffer): FixtureFile {
  const gitOid = createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');
  return { path, bytes, sha256: createHash('sha256').update(bytes).digest('hex'), gitOid, isLfs: LFS.test(path) };
}

/** Every file under `root`, by path relative to it. */
function filesAt(root: string): Map<string, FixtureFile> {
  const files = new Map<string, FixtureFile>();
  for (const full of listFiles(root)) {
    const bytes = readFileSync(full);
    const path = relative(root, full).split('\\').join('/');
    const gitOid = createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');
    files.set(path, {
      path,
      bytes,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      gitOid,
      isLfs: LFS.test(path),
    });
  }
  return files;
}

/**
 * Models served without a folder of their own: `sd-turbo-ort-web`, the tiny SD-Turbo in the
 * onnxruntime web sample's layout (graphs only, no model_index.json); none for other names.
 */
function derivedFiles(model: string): Map<string, FixtureFile> {
  const singleFile = join(FIXTURES, 'single-file');
  if (model === 'sf-sd15-diffusers') return filesAt(join(singleFile, 'tiny-sd15-diffusers'));
  if (model === 'sf-sd15-file') {
    const path = 'tiny-sd15.safetensors';
    return new Map([[path, fixtureFile(path, readFileSync(join(singleFile, path)))]]);
  }
  if (model === 'sf-sd15-mixed') {
    // what real repositories hold besides what from_pretrained needs: variants, pickles, ONNX, a safety checker
    const files = filesAt(join(singleFile, 'tiny-sd15-diffusers'));
    const unet = files.get('unet/diffusion_pytorch_model.safetensors')!.bytes;
    const extra: Record<string, Buffer> = {
      'unet/diffusion_pytorch_model.fp16.safetensors': unet,
      'unet/diffusion_pytorch_model.bin': Buffer.from('pickle'),
      'unet/diffusion_pytorch_model.fp16.bin': Buffer.from('pickle'),
      'unet/diffusion_pytorch_model.non_ema.safetensors': unet,
      'text_encoder/model.fp16.bin': Buffer.from('pickle'),
      'text_encoder/model.onnx': Buffer.from('onnx'),
      'vae/diffusion_pytorch_model.ckpt': Buffer.from('pickle'),
      'safety_checker/config.json': Buffer.from('{}'),
      'safety_checker/model.safetensors': unet,
      'feature_extractor/preprocessor_config.json': Buffer.from('{}'),
      'v1-5-pruned.safetensors': unet,
      'README.md': Buffer.from('# model'),
    };
    for (const [path, bytes] of Object.entries(extra)) files.set(path, fixtureFile(path, bytes));
    const index = JSON.parse(files.get('model_index.json')!.bytes.toString('utf8')) as Record<string, unknown>;
    index['safety_checker'] = ['stable_diffusion', 'StableDiffusionSafetyChecker'];
    index['feature_extractor'] = ['transformers', 'CLIPImageProcessor'];
    files.set('model_index.json', fixtureFile('model_index.json', Buffer.from(JSON.stringify(index))));
    return files;
  }
  if (model === 'sf-sd15-sharded') {
    // the VAE as two shards of an fp16-variant index (the bytes stay float32: only the layout matters here)
    const files = filesAt(join(singleFile, 'tiny-sd15-diffusers'));
    const vae = files.get('vae/diffusion_pytorch_model.safetensors')!.bytes;
    files.delete('vae/diffusion_pytorch_model.safetensors');
    const names = [
      'diffusion_pytorch_model-00001-of-00002.fp16.safetensors',
      'diffusion_pytorch_model-00002-of-00002.fp16.safetensors',
    ];
    const weightMap: Record<string, string> = {};
    splitSafetensors(vae, 2).forEach((shard, i) => {
      files.set(`vae/${names[i]}`, fixtureFile(`vae/${names[i]}`, shard.bytes));
      for (const key of shard.keys) weightMap[key] = names[i]!;
    });
    const indexPath = 'vae/diffusion_pytorch_model.fp16.safetensors.index.json';
    files.set(indexPath, fixtureFile(indexPath, Buffer.from(JSON.stringify({ metadata: {}, weight_map: weightMap }))));
    return files;
  }
  if (model === 'sf-bad') {
    const whole = readFileSync(join(singleFile, 'tiny-sd15.safetensors'));
    const bad: Record<string, Buffer> = {
      'truncated.safetensors': whole.subarray(0, whole.length >> 1),
      'page.safetensors': Buffer.from('<!DOCTYPE html><html><body>Sign in to download</body></html>'),
    };
    return new Map(Object.entries(bad).map(([path, bytes]) => [path, fixtureFile(path, bytes)]));
  }
  if (model !== 'sd-turbo-ort-web') return new Map();
  const source = fixtureFiles(ORT_WEB_SOURCE);
  return new Map(ortWebPaths().map((path) => [path, source.get(path) as FixtureFile]));
}

/** Splits a safetensors file into `count` files of whole tensors (as sharded checkpoints are). */
function splitSafetensors(bytes: Buffer, count: number): { bytes: Buffer; keys: string[] }[] {
  const headerBytes = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + headerBytes).toString('utf8')) as Record<
    string,
    { dtype: string; shape: number[]; data_offsets: [number, number] }
  >;
  const keys = Object.keys(header).filter((k) => k !== '__metadata__');
  const per = Math.ceil(keys.length / count);
  return Array.from({ length: count }, (_, n) => {
    const part = keys.slice(n * per, (n + 1) * per);
    const out: Record<string, unknown> = {};
    const data: Buffer[] = [];
    let at = 0;
    for (const key of part) {
      const t = header[key]!;
      const body = bytes.subarray(8 + headerBytes + t.data_offsets[0], 8 + headerBytes + t.data_offsets[1]);
      out[key] = { dtype: t.dtype, shape: t.shape, data_offsets: [at, at + body.length] };
      data.push(body);
      at += body.length;
    }
    let json = JSON.stringify(out);
    json += ' '.repeat((8 - (json.length % 8)) % 8);
    const head = Buffer.alloc(8);
    head.writeBigUInt64LE(BigInt(json.length));
    return { bytes: Buffer.concat([head, Buffer.from(json), ...data]), keys: part };
  });
}

/** Deterministic pseudo-random numbers in [0, 1) (mulberry32), so fault offsets repeat from run to run. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class ModelServer {
  readonly faults: Faults = {
    cuts: 0,
    errors500: 0,
    htmlPages: 0,
    corruptions: 0,
    hangs: 0,
    hangStage: 'after-headers',
    hangAfterBytes: 0,
    ignoreRange: false,
    minBodyBytes: 0,
  };
  readonly log: LoggedRequest[] = [];
  bytesSent = 0;
  baseUrl = '';
  private readonly server: Server;
  private readonly models = new Map<string, Map<string, FixtureFile>>();
  private readonly random = seeded(1234);
  /** Responses held open by a hang, ended on reset. */
  private readonly hung = new Set<ServerResponse>();

  constructor() {
    this.server = createServer((req, res) => this.handle(req, res));
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.baseUrl = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Clears counters and faults between tests. */
  reset(): void {
    Object.assign(this.faults, {
      cuts: 0,
      errors500: 0,
      htmlPages: 0,
      corruptions: 0,
      hangs: 0,
      hangStage: 'after-headers',
      hangAfterBytes: 0,
      ignoreRange: false,
      minBodyBytes: 0,
      pathSuffix: undefined,
    });
    for (const res of this.hung) res.socket?.destroy();
    this.hung.clear();
    this.log.length = 0;
    this.bytesSent = 0;
  }

  /** The fixture model's files; none for an unknown model. */
  files(model: string): Map<string, FixtureFile> {
    let files = this.models.get(model);
    if (!files)
      this.models.set(model, (files = existsSync(join(MODELS, model)) ? fixtureFiles(model) : derivedFiles(model)));
    return files;
  }

  /** Body bytes served for paths ending in `suffix`. */
  bytesFor(suffix: string): number {
    return this.log.filter((r) => r.url.split('?')[0]?.endsWith(suffix)).reduce((n, r) => n + r.bodyBytes, 0);
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', this.baseUrl);
    const parts = url.pathname.split('/').slice(1).map(decodeURIComponent);
    const entry: LoggedRequest = {
      method: req.method ?? 'GET',
      url: url.pathname + url.search,
      status: 0,
      bodyBytes: 0,
    };
    if (req.headers.range) entry.range = req.headers.range;
    this.log.push(entry);
    res.setHeader('access-control-allow-origin', '*');
    res.setHeader('access-control-expose-headers', 'content-length, content-range, accept-ranges, link');
    if (req.method === 'OPTIONS') {
      // a preflight (a cross-origin page asking with headers beyond the safelisted ones)
      entry.status = 204;
      res.writeHead(204, {
        'access-control-allow-methods': 'GET, HEAD',
        'access-control-allow-headers': 'range',
        'access-control-max-age': '600',
      });
      return void res.end();
    }
    const send = (status: number, body: string | Buffer, headers: Record<string, string> = {}): void => {
      entry.status = status;
      res.writeHead(status, { 'content-length': String(Buffer.byteLength(body)), ...headers });
      if (req.method === 'HEAD') return void res.end();
      entry.bodyBytes = Buffer.byteLength(body);
      this.bytesSent += entry.bodyBytes;
      res.end(body);
    };
    const [kind, a, b, c, d, ...rest] = parts;
    if (kind === 'api' && a === 'models' && b === 'test' && c !== undefined && d === 'tree') {
      // /api/models/test/{model}/tree/{rev}/{sub...}
      return this.tree(c, rest.slice(1).join('/'), url, send);
    }
    if (kind === 'test' && a !== undefined && b === 'resolve' && c !== undefined) {
      const path = [d, ...rest].join('/');
      const file = this.files(a).get(path);
      if (!file) return send(404, 'Entry not found', { 'content-type': 'text/plain' });
      if (file.isLfs) {
        entry.status = 302;
        res.writeHead(302, { location: `/cdn/${a}/${path}` });
        return void res.end();
      }
      return this.serveFile(req, res, entry, file, path);
    }
    if ((kind === 'cdn' || kind === 'static' || kind === 'manifest') && a !== undefined) {
      const path = [b, c, d, ...rest].filter((p) => p !== undefined).join('/');
      if (kind === 'manifest' && path === 'sd-model-manifest.json')
        return send(200, this.manifest(a), { 'content-type': 'application/json' });
      const file = this.files(a).get(path);
      if (!file) return send(404, 'Not found', { 'content-type': 'text/plain' });
      return this.serveFile(req, res, entry, file, path);
    }
    send(404, 'Not found', { 'content-type': 'text/plain' });
  }

  private manifest(model: string): string {
    const files = [...this.files(model).values()].map((f) => ({
      path: f.path,
      size: f.bytes.length,
      sha256: f.sha256,
    }));
    return JSON.stringify({ format: 'sd-model-manifest', version: 1, files });
  }

  private tree(
    model: string,
    sub: string,
    url: URL,
    send: (status: number, body: string, headers?: Record<string, string>) => void,
  ): void {
    const prefix = sub === '' ? '' : `${sub}/`;
    const files = [...this.files(model).values()].filter((f) => f.path.startsWith(prefix));
    if (files.length === 0)
      return send(404, JSON.stringify({ error: 'not found' }), { 'content-type': 'application/json' });
    const dirs = new Set(
      files.flatMap((f) =>
        f.path
          .split('/')
          .slice(0, -1)
          .map((_, i, segs) => segs.slice(0, i + 1).join('/')),
      ),
    );
    const entries = [
      ...[...dirs].map((path) => ({
        type: 'directory',
        oid: createHash('sha1').update(path).digest('hex'),
        size: 0,
        path,
      })),
      ...files.map((f) =>
        f.isLfs
          ? {
              type: 'file',
              oid: createHash('sha1').update(`pointer ${f.sha256}`).digest('hex'),
              size: f.bytes.length,
              path: f.path,
              lfs: { oid: f.sha256, size: f.bytes.length, pointerSize: 134 },
            }
          : { type: 'file', oid: f.gitOid, size: f.bytes.length, path: f.path },
      ),
    ].sort((x, y) => (x.path < y.path ? -1 : 1));
    const cursor = Number(url.searchParams.get('cursor') ?? 0);
    const page = entries.slice(cursor, cursor + PAGE_SIZE);
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (cursor + PAGE_SIZE < entries.length) {
      const next = new URL(url);
      next.searchParams.set('cursor', String(cursor + PAGE_SIZE));
      headers['link'] = `<${next.href}>; rel="next"`;
    }
    send(200, JSON.stringify(page), headers);
  }

  private isTarget(path: string, bodyBytes: number): boolean {
    return (
      bodyBytes >= this.faults.minBodyBytes &&
      (this.faults.pathSuffix === undefined || path.endsWith(this.faults.pathSuffix))
    );
  }

  private serveFile(
    req: IncomingMessage,
    res: ServerResponse,
    entry: LoggedRequest,
    file: FixtureFile,
    path: string,
  ): void {
    const size = file.bytes.length;
    const isHead = req.method === 'HEAD';
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    if (!isHead && this.faults.errors500 > 0 && this.isTarget(path, size)) {
      this.faults.errors500--;
      entry.status = 500;
      res.writeHead(500, { 'content-type': 'text/plain' });
      return void res.end();
    }
    if (!isHead && this.faults.htmlPages > 0 && this.isTarget(path, size)) {
      this.faults.htmlPages--;
      const page = '<!DOCTYPE html><html><body>Service busy, try again</body></html>';
      entry.status = 200;
      entry.bodyBytes = page.length;
      this.bytesSent += page.length;
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': String(page.length) });
      return void res.end(page);
    }
    const isHang = !isHead && this.faults.hangs > 0 && this.isTarget(path, size);
    if (isHang) {
      this.faults.hangs--;
      this.hung.add(res);
      res.on('close', () => this.hung.delete(res));
      if (this.faults.hangStage === 'before-headers') return;
    }
    let start = 0;
    let end = size;
    let status = 200;
    const headers: Record<string, string> = { 'content-type': 'application/octet-stream', 'accept-ranges': 'bytes' };
    if (range && !this.faults.ignoreRange) {
      start = Number(range[1]);
      end = range[2] === '' ? size : Math.min(size, Number(range[2]) + 1);
      if (start >= size) {
        entry.status = 416;
        res.writeHead(416, { 'content-range': `bytes */${size}` });
        return void res.end();
      }
      status = 206;
      headers['content-range'] = `bytes ${start}-${end - 1}/${size}`;
    }
    headers['content-length'] = String(end - start);
    entry.status = status;
    res.writeHead(status, headers);
    if (isHead) return void res.end();
    let body = file.bytes.subarray(start, end);
    if (this.faults.corruptions > 0 && this.isTarget(path, body.length)) {
      this.faults.corruptions--;
      body = Buffer.from(body);
      const at = Math.floor(this.random() * body.length);
      body[at] = (body[at] as number) ^ 0xff;
    }
    if (isHang) {
      const sent = body.subarray(0, Math.min(body.length - 1, this.faults.hangAfterBytes));
      entry.bodyBytes = sent.length;
      this.bytesSent += sent.length;
      // headers (and a few bytes) go out now; then the connection stays open and silent
      res.flushHeaders();
      if (sent.length > 0) res.write(sent);
      return;
    }
    let cutAt = body.length;
    if (this.faults.cuts > 0 && this.isTarget(path, body.length) && body.length > 1) {
      this.faults.cuts--;
      cutAt = 1 + Math.floor(this.random() * (body.length - 1));
    }
    this.writeBody(res, entry, body, cutAt);
  }

  /** Writes `body` in pieces, respecting backpressure; destroys the connection after `cutAt` bytes when that is short of the end. */
  private writeBody(res: ServerResponse, entry: LoggedRequest, body: Buffer, cutAt: number): void {
    let at = 0;
    const isCut = cutAt < body.length;
    const pump = (): void => {
      while (at < cutAt) {
        const piece = body.subarray(at, Math.min(cutAt, at + WRITE_PIECE));
        at += piece.length;
        entry.bodyBytes += piece.length;
        this.bytesSent += piece.length;
        // a cut lands after the last piece has reached the socket, so the client sees those bytes
        const isLast = at === cutAt;
        const ok = isLast && isCut ? res.write(piece, () => res.socket?.destroy()) : res.write(piece);
        if (!ok && !isLast) return void res.once('drain', pump);
      }
      if (!isCut) res.end();
    };
    res.on('close', () => res.off('drain', pump));
    pump();
  }
}
