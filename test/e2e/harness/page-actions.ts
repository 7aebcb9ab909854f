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
    sdWeb?: { loseDevice(): Promise<void> };
  }
}

/** Records every long task of every page of the context from its very start. */
export async function observeLongTasks(context: BrowserContext): Promise<void> {
  await context.addInitScript(() => {
    window.__longTasks = [];
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) window.__longTasks?.push({ startTime: e.startTime, duration: e.duration });
    }).observe({ type: 'longtask', buffered: true });
  });
}

export function pageNow(page: Page): Promise<number> {
  return page.evaluate(() => performance.now());
}

/** The longest main-thread task that started within [from, to] (0 when none exceeded 50 ms). */
export async function longestTask(page: Page, from: number, to: number): Promise<number> {
  const tasks = await page.evaluate(() => window.__longTasks ?? []);
  return tasks.filter((t) => t.startTime >= from && t.startTime <= to).reduce((max, t) => Math.max(max, t.duration), 0);
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
      (n) => document.querySelectorAll('[data-testid="result-image"]').length >= n || document.querySelector('[data-testid="error"]') !== null,
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
      .map((id) => `${id}: ${(document.querySelector(`[data-testid="${id}"]`) as HTMLElement | null)?.innerText.replace(/\s+/g, ' ') ?? '-'}`)
      .join(' | '),
  );
}

/** The newest result's PNG, read back through its `src` (a blob: URL). */
export async function newestPng(page: Page): Promise<Uint8Array> {
  const bytes = await page.getByTestId('result-image').first().evaluate(async (img) => {
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
    throw new Error(`Step ${step} not reached within ${timeoutMs} ms; the page says: ${await pageState(page)}`, { cause: e });
  }
  const error = page.getByTestId('error');
  if ((await error.count()) > 0) throw new Error(`The page shows an error: ${await error.innerText()}`);
}
