import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import { launchBrowser } from './browser.ts';
import { buildSite } from './build-site.ts';
import { startStaticServer, type StaticServer } from './static-server.ts';

/** A server a test file needs beside the site (e.g. the Hub-like `ModelServer`). */
export interface SideServer {
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface SessionOptions {
  /** URL prefixes served beside the app's `/app/` → folders (e.g. `{ '/models/': MODELS }`). */
  routes?: Record<string, string>;
  /** Headers on every response of the site's server (e.g. COOP/COEP for cross-origin isolation). */
  headers?: Record<string, string>;
  /** Started while the site builds, stopped at `close`. */
  sideServers?: SideServer[];
  /** Runs on the fresh browser context before the page opens (e.g. `observeLongTasks`). */
  prepareContext?: (context: BrowserContext) => Promise<void>;
  /** Names the figures line printed at `close`. */
  label?: string;
}

/** The production build served by a static server, and one page of a fresh headless Chromium. */
export interface Session {
  page: Page;
  context: BrowserContext;
  /** The app's URL, e.g. http://127.0.0.1:41234/app/ */
  appUrl: string;
  server: StaticServer;
  /** Console errors and warnings and uncaught page errors of every page of the context. */
  log: string[];
  /** Measurements printed as one JSON line at `close` (build and launch times are there already). */
  figures: Record<string, number>;
  /** A temporary folder for the test's own files, removed at `close`. */
  tempDir: string;
  /** Another server of the same build and routes, with `headers` on every response; `close` closes it if still open. */
  startServer(headers: Record<string, string>): Promise<StaticServer>;
  /** Closes the browser and the servers, removes the build, prints the figures and the log's tail. */
  close(): Promise<void>;
}

/** How many lines of the browser's log `close` prints. */
const LOG_TAIL_LINES = 40;

/**
 * Builds the site, serves it under `/app/` (with `routes` beside it), launches the browser and opens
 * a page whose console errors and warnings go to `log`. Call it in `beforeAll` and `close` in
 * `afterAll`; a failed start closes what it had opened.
 */
export async function openSession(options: SessionOptions = {}): Promise<Session> {
  const { routes = {}, headers = {}, sideServers = [], prepareContext, label = 'e2e' } = options;
  const log: string[] = [];
  const figures: Record<string, number> = {};
  const tempDir = mkdtempSync(join(tmpdir(), 'sd-e2e-'));
  const cleanups: (() => Promise<void> | void)[] = [() => rmSync(tempDir, { recursive: true, force: true })];
  const close = async (): Promise<void> => {
    const errors: unknown[] = [];
    // the last opened closes first: the browser before the servers it reads from
    for (const cleanup of cleanups.splice(0).reverse()) {
      try {
        await cleanup();
      } catch (e) {
        errors.push(e);
      }
    }
    console.log(`${label} figures: ${JSON.stringify(figures)}`);
    if (log.length > 0) console.log(`browser console:\n${log.slice(-LOG_TAIL_LINES).join('\n')}`);
    if (errors.length > 0) throw new AggregateError(errors, 'closing the e2e session failed');
  };
  try {
    let t = Date.now();
    const starting = sideServers.map(async (side) => {
      await side.start();
      cleanups.push(() => side.stop());
    });
    const building = buildSite().then((dist) => {
      cleanups.push(() => rmSync(dist, { recursive: true, force: true }));
      return dist;
    });
    // everything settles first, so that a failure leaves nothing unregistered for close
    await Promise.allSettled([building, ...starting]);
    const dist = await building;
    await Promise.all(starting);
    figures['buildMs'] = Date.now() - t;
    const mounts = { '/app/': dist, ...routes };
    const server = await startStaticServer(mounts, headers);
    cleanups.push(() => server.close());
    t = Date.now();
    const browser = await launchBrowser();
    cleanups.push(() => browser.close());
    figures['launchMs'] = Date.now() - t;
    const { context } = browser;
    context.on('page', (p) => {
      p.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warning') log.push(`[${m.type()}] ${m.text()}`);
      });
      p.on('pageerror', (e) => log.push(`[pageerror] ${e.message}`));
    });
    await prepareContext?.(context);
    const page = await context.newPage();
    return {
      page,
      context,
      appUrl: `${server.origin}/app/`,
      server,
      log,
      figures,
      tempDir,
      async startServer(extraHeaders) {
        const other = await startStaticServer(mounts, extraHeaders);
        cleanups.push(() => other.close());
        return other;
      },
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}

/**
 * Opens a session in `beforeAll` and closes it in `afterAll` of the enclosing `describe` (or file).
 * The returned object reads the open session; reading it outside the tests throws.
 */
export function useSession(options: SessionOptions = {}): Session {
  let opened: Session | undefined;
  beforeAll(async () => {
    opened = await openSession(options);
  });
  afterAll(async () => {
    await opened?.close();
    opened = undefined;
  });
  // every read goes to the session of the moment, so a file can hold this before beforeAll has run
  return new Proxy({} as Session, {
    get(_, key) {
      if (!opened) throw new Error('The e2e session is not open: read it inside a test (did its beforeAll fail?)');
      return Reflect.get(opened, key) as unknown;
    },
  });
}
