import { isSdError } from '../core/errors.ts';

/**
 * Runs a command and turns its outcome into the process exit status: 0 when it finishes, 1 with
 * the message on stderr when it fails with an SdError (bad input, a bad model: nothing written).
 * Anything else is a bug and propagates with its stack.
 */
export async function exitStatusOf(run: () => Promise<void>): Promise<number> {
  try {
    await run();
    return 0;
  } catch (e) {
    if (isSdError(e)) {
      process.stderr.write(`\nError: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}
