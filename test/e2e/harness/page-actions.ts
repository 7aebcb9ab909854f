import type { BrowserContext, Page } from 'playwright-core';
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

/** The newest result's PNG, read back through its `src` (a blob: URL). */
export async function newestPng(page: Page): Promise<Uint8Array> {
  const bytes = await page
    .getByTestId('result-image')
    .first()
    .evaluate(async (img) => {
      const response = await fetch((img as HTMLImageElement).src);
      return Array.from(new Uint8Array(await response.arrayBuffer()));
    });
  return Uint8Array.from(bytes);
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
