import { basename } from 'node:path';
import type { BrowserContext, Locator, Page } from 'playwright-core';
import type { ReferenceCase } from '../../oracle/cases.ts';

/** One main-thread long task (over 50 ms) as the PerformanceObserver saw it; times in ms. */
export interface LongTask {
  startTime: number;
  duration: number;
}

declare global {
  interface Window {
    __longTasks?: LongTask[];
    /** [time, progress text] each time the progress bar changed. */
    __progressLog?: [number, string][];
    sdWeb?: { loseDevice(): Promise<void> };
  }
}

/**
 * Records every long task of every page of the context from its very start, and the progress
 * bar's text over time (to tell in which stage a long task happened).
 */
export async function observeLongTasks(context: BrowserContext): Promise<void> {
  await context.addInitScript(() => {
    window.__longTasks = [];
    window.__progressLog = [];
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) window.__longTasks?.push({ startTime: e.startTime, duration: e.duration });
    }).observe({ type: 'longtask', buffered: true });
    document.addEventListener('DOMContentLoaded', () => {
      let last = '';
      new MutationObserver(() => {
        const text = document.querySelector('[data-testid="progress"]')?.textContent?.trim().replace(/\s+/g, ' ') ?? '';
        if (text !== last) window.__progressLog?.push([performance.now(), (last = text)]);
      }).observe(document.body, { subtree: true, childList: true, characterData: true });
    });
  });
}

export function pageNow(page: Page): Promise<number> {
  return page.evaluate(() => performance.now());
}

/** The longest main-thread task that started within [from, to] (0 when none exceeded 50 ms), and the stage it fell in. */
export async function longestTask(
  page: Page,
  from: number,
  to: number,
): Promise<{ durationMs: number; stage: string }> {
  const { tasks, progress } = await page.evaluate(() => ({
    tasks: window.__longTasks ?? [],
    progress: window.__progressLog ?? [],
  }));
  let longest: LongTask | undefined;
  for (const t of tasks)
    if (t.startTime >= from && t.startTime <= to && t.duration > (longest?.duration ?? 0)) longest = t;
  if (!longest) return { durationMs: 0, stage: '' };
  const start = longest.startTime;
  const stage = progress.filter(([at]) => at <= start).at(-1)?.[1] ?? 'before the first progress report';
  return { durationMs: longest.duration, stage };
}

/** The share link that reproduces a reference case, with the model served from `modelsPath`. */
export function shareLink(appUrl: string, c: ReferenceCase, modelsPath: string): string {
  const q = new URLSearchParams({
    model: `${modelsPath}${c.model}`,
    prompt: c.prompt,
    negative: c.negative_prompt,
    steps: String(c.steps),
    cfg: String(c.cfg),
    seed: String(c.seed),
    width: String(c.width),
    height: String(c.height),
  });
  if (c.sampler !== null) q.set('sampler', c.sampler);
  if (c.rng === 'gpu') q.set('rng', 'gpu');
  return `${appUrl}?${q.toString()}`;
}

export async function resultCount(page: Page): Promise<number> {
  return page.getByTestId('result-image').count();
}

/** Waits for the gallery to hold `count` images; fails early with the page's error message if one shows. */
export async function waitForResults(page: Page, count: number, timeoutMs: number): Promise<void> {
  try {
    await page.waitForFunction(
      (n) =>
        document.querySelectorAll('[data-testid="result-image"]').length >= n ||
        document.querySelector('[data-testid="error"]') !== null,
      count,
      { timeout: timeoutMs, polling: 100 },
    );
  } catch (e) {
    throw new Error(`No result within ${timeoutMs} ms; the page says: ${await pageState(page)}`, { cause: e });
  }
  const error = page.getByTestId('error');
  if ((await error.count()) > 0) throw new Error(`The page shows an error: ${await error.innerText()}`);
}

/** Progress, backend and error texts, for failure messages. */
export async function pageState(page: Page): Promise<string> {
  return page.evaluate(() =>
    ['progress', 'backend', 'error', 'notice']
      .map(
        (id) =>
          `${id}: ${(document.querySelector(`[data-testid="${id}"]`) as HTMLElement | null)?.innerText.replace(/\s+/g, ' ') ?? '-'}`,
      )
      .join(' | '),
  );
}

/** The file behind an image element, read back through its `src` (a blob: URL). */
export async function imageBytes(img: Locator): Promise<Uint8Array> {
  const bytes = await img.evaluate(async (element) => {
    const response = await fetch((element as HTMLImageElement).src);
    return Array.from(new Uint8Array(await response.arrayBuffer()));
  });
  return Uint8Array.from(bytes);
}

/** The newest result's PNG, read back through its `src` (a blob: URL). */
export async function newestPng(page: Page): Promise<Uint8Array> {
  return imageBytes(page.getByTestId('result-image').first());
}

/** Clicks Generate and returns the new image's PNG; fails with the page's error if one shows. */
export async function generateImage(page: Page, timeoutMs: number): Promise<Uint8Array> {
  const before = await resultCount(page);
  await page.getByTestId('generate').click();
  await waitForResults(page, before + 1, timeoutMs);
  return newestPng(page);
}

/** The error's text while one shows, else the page's state: what to poll until an error shows. */
export async function errorOrState(page: Page): Promise<string> {
  const error = page.getByTestId('error');
  return (await error.count()) > 0 ? error.innerText() : pageState(page);
}

/**
 * Opens a single `.safetensors` checkpoint from disk with its diffusers folder picked as the config
 * ("Config folder…", then "Open a file…"), and waits until the page says it reads it.
 */
export async function openCheckpoint(page: Page, file: string, configFolder: string): Promise<void> {
  await page.getByTestId('config-input').setInputFiles(configFolder);
  await page
    .getByTestId('config-name')
    .filter({ hasText: `config: ${basename(configFolder)}` })
    .waitFor({ timeout: 10_000 });
  await page.getByTestId('file-input').setInputFiles(file);
  try {
    await page.waitForFunction(
      (name) =>
        (document.querySelector('[data-testid="local-model"]') as HTMLElement | null)?.innerText.startsWith(
          `Reading ${name}`,
        ) === true,
      basename(file),
      { timeout: 30_000, polling: 100 },
    );
  } catch (e) {
    const error = page.getByTestId('local-error');
    const said = (await error.count()) > 0 ? await error.innerText() : await pageState(page);
    throw new Error(`${basename(file)} not read within 30 s; the page says: ${said}`, { cause: e });
  }
}

/** Turns ControlNet Unit 0 on (its controls show only then). */
export async function enableControlNet(page: Page): Promise<void> {
  await page.getByRole('checkbox', { name: 'Enable ControlNet Unit 0' }).check();
}

/**
 * Adds ControlNet files (`.safetensors`, optionally with `config.json`) or, with `isFolder`, a diffusers
 * ControlNet folder through the enabled panel's pickers, and waits until the stored list shows `name`.
 */
export async function addControlNet(
  page: Page,
  paths: string | string[],
  name: string,
  isFolder = false,
): Promise<void> {
  await page.getByTestId(isFolder ? 'controlnet-folder-input' : 'controlnet-input').setInputFiles(paths);
  const listed = page.getByTestId('controlnet-list').getByText(name, { exact: true });
  try {
    await listed.waitFor({ timeout: 30_000 });
  } catch (e) {
    const error = page.getByTestId('controlnet-error');
    const said = (await error.count()) > 0 ? await error.innerText() : 'no error';
    throw new Error(`ControlNet ${name} not listed within 30 s; the panel says: ${said}`, { cause: e });
  }
}

/**
 * Gives ControlNet Unit 0 its control image and waits for the preview of `preprocessor` (the worker's
 * spec, e.g. `canny:100:200`); returns the preview's PNG.
 */
export async function controlPreview(page: Page, preprocessor: string, image?: string): Promise<Uint8Array> {
  if (image !== undefined) await page.getByTestId('control-image').setInputFiles(image);
  const preview = page.locator(`[data-testid="control-preview"][data-preprocessor="${preprocessor}"]`);
  try {
    await preview.waitFor({ timeout: 30_000 });
  } catch (e) {
    const error = page.getByTestId('control-preview-error');
    const said = (await error.count()) > 0 ? await error.innerText() : 'no error';
    throw new Error(`No ${preprocessor} preview within 30 s; the panel says: ${said}`, { cause: e });
  }
  return imageBytes(preview);
}

/** Waits until the progress bar reports at least `step` denoising steps. */
export async function waitForStep(page: Page, step: number, timeoutMs: number): Promise<void> {
  try {
    await page.waitForFunction(
      (n) =>
        Number(document.querySelector('[data-testid="progress"]')?.getAttribute('data-step') ?? 0) >= n ||
        document.querySelector('[data-testid="error"]') !== null,
      step,
      { timeout: timeoutMs, polling: 20 },
    );
  } catch (e) {
    throw new Error(`Step ${step} not reached within ${timeoutMs} ms; the page says: ${await pageState(page)}`, {
      cause: e,
    });
  }
  const error = page.getByTestId('error');
  if ((await error.count()) > 0) throw new Error(`The page shows an error: ${await error.innerText()}`);
}

/** Waits until an activated service worker controls the page (it has then cached the app shell). */
export async function waitForServiceWorker(page: Page, timeoutMs: number): Promise<void> {
  try {
    await page.waitForFunction(() => navigator.serviceWorker.controller?.state === 'activated', undefined, {
      timeout: timeoutMs,
      polling: 250,
    });
  } catch (e) {
    const state = await page.evaluate(async () => {
      const r = await navigator.serviceWorker.getRegistration();
      return r
        ? `installing: ${r.installing?.state}, waiting: ${r.waiting?.state}, active: ${r.active?.state}`
        : 'no registration';
    });
    throw new Error(`No active service worker within ${timeoutMs} ms (${state})`, { cause: e });
  }
}
