import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { decodePng } from '../../src/core/png/png.ts';
import { MODELS, REFERENCE } from '../fixtures.ts';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');

/** One reference generation computed with diffusers (fields as in the fixture JSON). */
export interface ReferenceCase {
  id: string;
  model: string;
  prompt: string;
  negative_prompt: string;
  sampler: string | null;
  steps: number;
  cfg: number;
  seed: number;
  width: number;
  height: number;
  init_image?: unknown;
  strength?: number;
  rng?: 'cpu' | 'gpu';
  prompt_semantics?: string;
}

export const CASES_DIR = resolve(REFERENCE, 'cases');

export function loadCases(): ReferenceCase[] {
  return readdirSync(CASES_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => JSON.parse(readFileSync(resolve(CASES_DIR, f), 'utf8')) as ReferenceCase);
}

/** CLI arguments that reproduce a case. */
export function cliArgs(c: ReferenceCase, out: string): string[] {
  const args = [
    'generate',
    '--model',
    resolve(MODELS, c.model),
    '--prompt',
    c.prompt,
    '--negative-prompt',
    c.negative_prompt,
    '--steps',
    String(c.steps),
    '--cfg',
    String(c.cfg),
    '--seed',
    String(c.seed),
    '--width',
    String(c.width),
    '--height',
    String(c.height),
    '--out',
    out,
    '--rng',
    c.rng ?? 'cpu',
    // cases without A1111 semantics were computed by diffusers' own prompt handling
    '--prompt-syntax',
    c.prompt_semantics ? 'a1111' : 'diffusers',
  ];
  if (c.sampler !== null) args.push('--sampler', c.sampler);
  if (c.init_image !== undefined)
    args.push('--init-image', resolve(CASES_DIR, `${c.id}.init.png`), '--strength', String(c.strength));
  return args;
}

/** Runs the command line tool exactly as a user would (`npm run cli -- ...` runs the same file). */
export async function runCli(args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run(process.execPath, ['--import', 'tsx', resolve(ROOT, 'src/cli/main.ts'), ...args], {
    cwd: ROOT,
    maxBuffer: 1 << 24,
  });
}

/** Mean and largest absolute difference between two 8-bit images, in levels. */
export function compareImages(a: Uint8Array, b: Uint8Array): { mean: number; max: number } {
  if (a.length !== b.length) throw new Error(`image sizes differ: ${a.length} vs ${b.length} bytes`);
  let sum = 0;
  let max = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs((a[i] as number) - (b[i] as number));
    sum += d;
    if (d > max) max = d;
  }
  return { mean: sum / a.length, max };
}

export function referencePng(c: ReferenceCase): ReturnType<typeof decodePng> {
  return decodePng(new Uint8Array(readFileSync(resolve(CASES_DIR, `${c.id}.png`))));
}

/** The tolerance of the reference cases: mean at most 0.5 levels, no pixel more than 6 levels off. */
export const TOLERANCE = { mean: 0.5, max: 6 };
