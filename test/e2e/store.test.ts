// The model store through the page in headless Chromium: downloads from the fault-injecting
// Hub-like server of the store's Node tests (cut connections, a 500, an HTML page, a corrupted
// byte, a stall), a reload in the middle of a download, the store panel (list, delete, clear all),
// and the stall timeout's message (`?stall_ms=` and `?retries=` shorten it for the test).
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { ModelServer, type LoggedRequest } from '../unit/store/model-server.ts';
import { generateImage, pageState } from './harness/page-actions.ts';
import { useSession } from './harness/session.ts';

const MODEL = 'tiny-sd15';
/** One run on SwiftShader, download included (a fresh worker compiles its shaders first). */
const RUN_TIMEOUT_MS = 180_000;
const TEST_TIMEOUT_MS = 240_000;

const hub = new ModelServer();

/** A one-step 64x64 generation of the fixture model from the Hub-like server, for the app at `appUrl`. */
function pageUrl(appUrl: string, extra: Record<string, string> = {}): string {
  const q = new URLSearchParams({
    model: `test/${MODEL}`,
    hf_endpoint: hub.baseUrl,
    prompt: 'a red fox in the snow',
    sampler: 'Euler',
    steps: '1',
    cfg: '7',
    seed: '42',
    width: '64',
    height: '64',
    ...extra,
  });
  return `${appUrl}?${q.toString()}`;
}

function modelBytes(): number {
  return [...hub.files(MODEL).values()].reduce((n, f) => n + f.bytes.length, 0);
}

/** The model's file path a logged file request fetched, or undefined for listings. */
function filePath(r: LoggedRequest): string | undefined {
  const m = /^\/(?:cdn\/[^/]+|test\/[^/]+\/resolve\/[^/]+)\/(.+)$/.exec(r.url.split('?')[0] ?? '');
  return m?.[1];
}

/** Files the server sent whole (every byte, in one response or several). */
function filesSentWhole(entries: readonly LoggedRequest[]): Set<string> {
  const sent = new Map<string, number>();
  for (const r of entries) {
    const path = filePath(r);
    if (path !== undefined && r.bodyBytes > 0) sent.set(path, (sent.get(path) ?? 0) + r.bodyBytes);
  }
  return new Set(
    [...sent]
      .filter(([path, bytes]) => bytes >= (hub.files(MODEL).get(path)?.bytes.length ?? Infinity))
      .map(([path]) => path),
  );
}

async function storedModels(p: Page): Promise<{ id: string; bytes: number; text: string }[]> {
  return p.getByTestId('stored-model').evaluateAll((items) =>
    items.map((li) => ({
      id: li.getAttribute('data-model-id') ?? '',
      bytes: Number(li.getAttribute('data-bytes')),
      text: (li as HTMLElement).innerText,
    })),
  );
}

/** Waits until the store panel lists `count` models (it lists again when a job starts and ends). */
async function waitForStoredCount(p: Page, count: number): Promise<void> {
  await expect.poll(async () => (await storedModels(p)).length, { timeout: 15_000 }).toBe(count);
}

/** Clicks a two-step delete button (the first click asks, the second deletes). */
async function clickTwice(p: Page, testId: string): Promise<void> {
  const button = p.getByTestId(testId).first();
  await button.click();
  await button.click();
}

describe('the model store in the page', () => {
  const session = useSession({ sideServers: [hub], label: 'store e2e' });

  it(
    'downloads through cut connections, a 500, an HTML page and a corrupted byte, generates, lists the model with its size and deletes it',
    async () => {
      const { page } = session;
      hub.reset();
      Object.assign(hub.faults, { cuts: 2, errors500: 1, htmlPages: 1, corruptions: 1, minBodyBytes: 200_000 });
      await page.goto(pageUrl(session.appUrl));
      await waitForStoredCount(page, 0);
      const t = Date.now();
      await generateImage(page, RUN_TIMEOUT_MS);
      session.figures['faultyDownloadAndRunMs'] = Date.now() - t;
      expect(hub.faults).toMatchObject({ cuts: 0, errors500: 0, htmlPages: 0, corruptions: 0 });
      // the corrupted file came twice; everything else about once
      session.figures['bytesServedOverModelSize'] = Number((hub.bytesSent / modelBytes()).toFixed(3));
      expect(hub.bytesSent / modelBytes()).toBeLessThan(1.8);

      await waitForStoredCount(page, 1);
      const [stored] = await storedModels(page);
      expect(stored?.bytes).toBe(modelBytes());
      expect(stored?.text).toContain(`test/${MODEL}`);
      expect(stored?.text).toMatch(/6\.\d+ MB · \d+ files · Hugging Face \(http:\/\/127\.0\.0\.1:\d+\)/);
      await expect(page.getByTestId('store-usage').innerText()).resolves.toMatch(
        /^Models: 6\.\d+ MB\. This site uses .+, .+ more available\.$/,
      );
      await expect(page.getByTestId('store-persistence').getAttribute('data-persisted')).resolves.toMatch(
        /^(true|false)$/,
      );

      // the loaded model is closed and deleted
      await clickTwice(page, 'delete-model');
      await waitForStoredCount(page, 0);
      await expect(page.getByTestId('store-message').innerText()).resolves.toBe(
        `Deleted test/${MODEL} (${hub.baseUrl}).`,
      );
      await expect(page.getByTestId('store-empty').count()).resolves.toBe(1);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'resumes a download after a page reload without fetching the stored files again',
    async () => {
      const { page } = session;
      hub.reset();
      // weights.pb goes silent after 100 kB: the files before it are stored, the page reloads meanwhile
      Object.assign(hub.faults, {
        hangs: 1,
        hangStage: 'after-headers',
        hangAfterBytes: 100_000,
        pathSuffix: 'unet/weights.pb',
      });
      await page.goto(pageUrl(session.appUrl));
      await page.getByTestId('generate').click();
      await expect
        .poll(() => hub.faults.hangs, { timeout: 60_000, message: 'the download reaches unet/weights.pb' })
        .toBe(0);
      // while the job downloads it, the panel lists the model as in use and offers no delete
      await page.getByTestId('refresh-store').click();
      await waitForStoredCount(page, 1);
      await expect.poll(() => page.getByTestId('delete-model').isDisabled()).toBe(true);
      await expect(page.getByTestId('stored-model').innerText()).resolves.toContain('in use');
      await expect(page.getByTestId('clear-store').isDisabled()).resolves.toBe(true);
      const firstRun = [...hub.log];
      const storedBefore = filesSentWhole(firstRun);
      expect(storedBefore.size).toBeGreaterThan(3);
      await page.reload();
      hub.reset();
      await generateImage(page, RUN_TIMEOUT_MS);
      const secondRun = [...hub.log];
      // model_index.json is read again with the listing; no other stored file is fetched again
      const again = [...new Set(secondRun.map(filePath))].filter(
        (p) => p !== undefined && p !== 'model_index.json' && storedBefore.has(p),
      );
      expect(again).toEqual([]);
      expect(filesSentWhole(secondRun).has('unet/weights.pb')).toBe(true);
      const served = firstRun.concat(secondRun).reduce((n, r) => n + r.bodyBytes, 0);
      session.figures['reloadBytesServedOverModelSize'] = Number((served / modelBytes()).toFixed(3));
      expect(served / modelBytes()).toBeLessThan(1.1);
      await waitForStoredCount(page, 1);
      expect((await storedModels(page))[0]?.bytes).toBe(modelBytes());
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'reports a stalled download with the stall timeout message, keeps what is stored, and clear-all empties the store',
    async () => {
      const { page } = session;
      hub.reset();
      await page.goto(pageUrl(session.appUrl, { stall_ms: '1000', retries: '1' }));
      await waitForStoredCount(page, 1);
      await clickTwice(page, 'clear-store');
      await waitForStoredCount(page, 0);
      await expect(page.getByTestId('store-message').innerText()).resolves.toBe('Deleted 1 stored model.');

      Object.assign(hub.faults, { hangs: 100, hangStage: 'before-headers', pathSuffix: 'unet/weights.pb' });
      const t = Date.now();
      await page.getByTestId('generate').click();
      try {
        await page.getByTestId('error').waitFor({ timeout: 60_000 });
      } catch (e) {
        throw new Error(`No error shown; the page says: ${await pageState(page)}`, { cause: e });
      }
      session.figures['stallReportedAfterMs'] = Date.now() - t;
      const host = hub.baseUrl.replace('http://', '');
      await expect(page.getByTestId('error').getAttribute('data-code')).resolves.toBe('network');
      const message = await page.getByTestId('error').innerText();
      expect(message).toContain(`No data from ${host} for 1 s, 2 tries (unet/weights.pb of test/${MODEL}`);
      expect(message).toContain(
        'check the connection, then press Generate again (or run the command again) to resume; stored chunks are kept.',
      );
      // two silent attempts of about a second each, not a download hanging for good
      expect(Date.now() - t).toBeLessThan(30_000);
      await waitForStoredCount(page, 1);
      const [partial] = await storedModels(page);
      expect(partial?.text).toContain('incomplete');
      expect(partial?.bytes).toBeGreaterThan(0);
      await clickTwice(page, 'clear-store');
      await waitForStoredCount(page, 0);
    },
    TEST_TIMEOUT_MS,
  );
});
