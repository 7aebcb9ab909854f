import { SdError } from '../../core/errors.ts';
import { numberArg, parseArgs, stringArg } from '../args.ts';
import { BENCH_BACKENDS, type BenchBackend } from './bench-runtime.ts';

/** What `npm run bench` was asked to measure. */
export interface BenchOptions {
  /** A diffusers ONNX folder, or a folder of bare graphs (auto-detected). */
  modelDir: string | undefined;
  /** Bare UNet graph folder (`--unet`); takes precedence over `modelDir`. */
  unetDir: string | undefined;
  vaeDir: string | undefined;
  backend: BenchBackend;
  steps: number;
  /** Image side in pixels (square), a multiple of 8. */
  size: number;
  /** The CFG batch: 2 = classifier-free guidance (CFG scale 7, one UNet call of batch 2), 1 = none (CFG scale 1). */
  cfgBatch: 1 | 2;
  /** Measured runs, after `warmup` unmeasured ones. */
  runs: number;
  warmup: number;
  /** A1111 sampler name; undefined = the model's scheduler_config.json. */
  sampler: string | undefined;
  /** Timed calls of the bare UNet loop (0 skips it); default steps x runs. */
  bareCalls: number;
  /** Create the sessions once instead of warm-up + R times (session creation then has one sample). */
  isLoadOnce: boolean;
}

const VALUED = [
  'model',
  'unet',
  'vae',
  'backend',
  'steps',
  'size',
  'cfg-batch',
  'runs',
  'warmup',
  'sampler',
  'bare-calls',
];
const FLAGS = ['load-once'];

export const BENCH_USAGE = `Usage: npm run --silent bench -- --model DIR [options]
       npm run --silent bench -- --unet DIR [--vae DIR] [options]
Prints one JSON object: per-stage median and spread over R runs after warm-up, UNet output reads
per step, a bare UNet loop for comparison, and peak memory.
  --model DIR        diffusers ONNX folder, or a folder with only unet/vae decoder graphs
  --unet DIR --vae DIR   bare graphs (e.g. the full-size SD 1.5 graphs of shared/bench)
  --backend cpu|wasm|webgpu (default cpu)   --steps N (20)   --size PX (512)   --cfg-batch 1|2 (2)
  --runs R (3)   --warmup N (1)   --sampler NAME (model's own)   --bare-calls N (steps x runs; 0 skips)
  --load-once        create sessions once (default: warm-up + R times, so creation time has R samples;
                     always once for bare graphs). Generations all run on the last session.`;

function positive(name: string, value: number | undefined, fallback: number, min: number): number {
  const v = value ?? fallback;
  if (v < min) throw new SdError('bad-argument', `--${name} ${v} is too small: use a whole number of at least ${min}.`);
  return v;
}

/** Parses and checks `npm run bench` arguments; errors name the option and what it accepts. */
export function parseBenchOptions(argv: readonly string[]): BenchOptions {
  const args = parseArgs(argv, 'bench', VALUED, FLAGS);
  const modelDir = stringArg(args, 'model');
  const unetDir = stringArg(args, 'unet');
  const vaeDir = stringArg(args, 'vae');
  if (modelDir === undefined && unetDir === undefined)
    throw new SdError('bad-argument', `Missing --model DIR or --unet DIR.\n${BENCH_USAGE}`);
  if (vaeDir !== undefined && unetDir === undefined)
    throw new SdError(
      'bad-argument',
      '--vae needs --unet: it names the VAE decoder graph that goes with a bare UNet graph.',
    );
  const backend = stringArg(args, 'backend') ?? 'cpu';
  if (!(BENCH_BACKENDS as readonly string[]).includes(backend)) {
    throw new SdError(
      'bad-argument',
      `--backend "${backend}" is not allowed. Expected one of: ${BENCH_BACKENDS.join(', ')}.`,
    );
  }
  const size = positive('size', numberArg(args, 'size', true), 512, 8);
  if (size % 8 !== 0)
    throw new SdError(
      'bad-argument',
      `--size ${size} is not allowed: use a multiple of 8 (latents are 1/8 of the image side), e.g. ${Math.max(8, Math.round(size / 8) * 8)}.`,
    );
  const cfgBatch = numberArg(args, 'cfg-batch', true) ?? 2;
  if (cfgBatch !== 1 && cfgBatch !== 2)
    throw new SdError(
      'bad-argument',
      `--cfg-batch ${cfgBatch} is not allowed: use 2 (classifier-free guidance, one UNet call of batch 2) or 1 (no guidance).`,
    );
  const steps = positive('steps', numberArg(args, 'steps', true), 20, 1);
  const runs = positive('runs', numberArg(args, 'runs', true), 3, 1);
  return {
    modelDir,
    unetDir,
    vaeDir,
    backend: backend as BenchBackend,
    steps,
    size,
    cfgBatch,
    runs,
    warmup: positive('warmup', numberArg(args, 'warmup', true), 1, 0),
    sampler: stringArg(args, 'sampler'),
    bareCalls: positive('bare-calls', numberArg(args, 'bare-calls', true), steps * runs, 0),
    isLoadOnce: args.has('load-once'),
  };
}
