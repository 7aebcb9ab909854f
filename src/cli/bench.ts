import { benchCommand } from './bench/bench-command.ts';
import { exitStatusOf } from './exit-status.ts';

/**
 * `npm run bench -- --model DIR ...`: stage-by-stage timings of the pipeline as JSON on stdout
 * (progress on stderr). See BENCH_USAGE in bench/bench-options.ts and the README's "Benchmarks".
 */
async function main(argv: readonly string[]): Promise<number> {
  return exitStatusOf(async () => {
    let text = '';
    await benchCommand(argv, (t) => (text += t));
    // wait for stdout to drain: the exit below would cut a piped write short
    await new Promise<void>((resolve) => process.stdout.write(text, () => resolve()));
  });
}

// exit explicitly: Dawn (webgpu) and onnxruntime-web keep handles that would hold the process open
process.exit(await main(process.argv.slice(2)));
