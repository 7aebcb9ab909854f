import { isSdError } from '../core/errors.ts';
import { benchCommand } from './bench/bench-command.ts';

/**
 * `npm run bench -- --model DIR ...`: stage-by-stage timings of the pipeline as JSON on stdout
 * (progress on stderr). See BENCH_USAGE in bench/bench-options.ts and the README's "Benchmarks".
 */
async function main(argv: readonly string[]): Promise<number> {
  try {
    let text = '';
    await benchCommand(argv, (t) => (text += t));
    // wait for stdout to drain: the exit below would cut a piped write short
    await new Promise<void>((resolve) => process.stdout.write(text, () => resolve()));
    return 0;
  } catch (e) {
    if (isSdError(e)) {
      process.stderr.write(`\nError: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}

// exit explicitly: Dawn (webgpu) and onnxruntime-web keep handles that would hold the process open
process.exit(await main(process.argv.slice(2)));
