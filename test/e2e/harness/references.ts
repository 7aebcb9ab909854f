import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { expect } from 'vitest';
import { decodePng } from '../../../src/core/png/png.ts';
import { compareImages, loadCases, TOLERANCE, type ReferenceCase } from '../../oracle/cases.ts';

/** A PNG file decoded (RGB bytes, size and text chunks). */
export function readPngFile(path: string): ReturnType<typeof decodePng> {
  return decodePng(new Uint8Array(readFileSync(path)));
}

/** A case's JSON (`<dir>/<id>.json`), for the fixture folders beside the public reference cases. */
export function readCase<C = ReferenceCase>(dir: string, id: string): C {
  return JSON.parse(readFileSync(resolve(dir, `${id}.json`), 'utf8')) as C;
}

/** A public reference case by id. */
export function referenceCase(id: string): ReferenceCase {
  const c = loadCases().find((x) => x.id === id);
  if (!c) throw new Error(`reference case ${id} is missing from the fixtures`);
  return c;
}

/**
 * Expects `ours` within the reference cases' tolerance of `expected` (both 8-bit RGB of one size),
 * and records the differences in `figures`, when given, as `<id>.mean` and `<id>.max`.
 */
export function expectWithinTolerance(
  ours: Uint8Array,
  expected: Uint8Array,
  id: string,
  figures?: Record<string, number>,
): void {
  const diff = compareImages(ours, expected);
  if (figures) Object.assign(figures, { [`${id}.mean`]: diff.mean, [`${id}.max`]: diff.max });
  expect(diff.mean, `mean abs diff vs ${id} (max ${diff.max})`).toBeLessThanOrEqual(TOLERANCE.mean);
  expect(diff.max, `max abs diff vs ${id}`).toBeLessThanOrEqual(TOLERANCE.max);
}
