/// <reference types="svelte" />
import { SdError } from '../core/errors.ts';

/** An error as a panel shows it: the core's code (for the heading) and the message. */
export interface PanelError {
  code: string;
  message: string;
}

/**
 * What the store, LoRA and ControlNet panels share: one operation at a time, its outcome for people ("Deleted …")
 * or its error, and a fresh listing after each.
 */
export abstract class PanelOperations {
  isWorking = $state(false);
  /** The outcome of the last operation, for people ("Deleted …"). */
  message = $state<string | null>(null);
  error = $state<PanelError | null>(null);

  /** @param failure how an operation's unexpected error is introduced ("The store operation failed") */
  constructor(private readonly failure: string) {}

  /** Reloads what the panel lists; runs after every operation. */
  abstract refresh(): Promise<void>;

  /** Runs `operation` unless one is running, keeping its message or error, then refreshes. */
  protected async operate(operation: () => Promise<string>): Promise<void> {
    if (this.isWorking) return;
    this.isWorking = true;
    this.message = null;
    this.error = null;
    try {
      this.message = await operation();
    } catch (e) {
      this.fail(e, this.failure);
    } finally {
      this.isWorking = false;
    }
    await this.refresh();
  }

  /** Shows `e`: an SdError as it is, anything else as `what` plus its message. */
  protected fail(e: unknown, what: string): void {
    this.error =
      e instanceof SdError
        ? { code: e.code, message: e.message }
        : { code: 'internal', message: `${what}: ${e instanceof Error ? e.message : String(e)}` };
  }
}
