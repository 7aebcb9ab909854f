import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The shared fixtures folder, next to the checkout (never copied into it). */
export const FIXTURES = resolve(dirname(fileURLToPath(import.meta.url)), '../../shared/fixtures');
export const MODELS = resolve(FIXTURES, 'models');
export const REFERENCE = resolve(FIXTURES, 'reference');

export function readReferenceJson<T>(name: string): T {
  return JSON.parse(readFileSync(resolve(REFERENCE, name), 'utf8')) as T;
}
