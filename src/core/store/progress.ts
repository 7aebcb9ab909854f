/** One progress report of a model download (structured-clone safe). Sizes in bytes. */
export interface StoreProgress {
  modelId: string;
  /** listing: reading the source's file list; downloading: fetching and storing; done: all files stored and verified. */
  phase: 'listing' | 'downloading' | 'done';
  /** The file being fetched ("unet/model.onnx"), when one is. */
  path?: string;
  fileLoadedBytes: number;
  fileTotalBytes: number;
  /** Stored bytes of the whole model, including what was stored before this download started. */
  loadedBytes: number;
  totalBytes: number;
  filesDone: number;
  fileCount: number;
  /** Download rate over the last few seconds (0 until measured). */
  bytesPerSecond: number;
  /** Estimated time left at that rate; undefined while unknown. */
  secondsLeft?: number;
}

export type StoreProgressCallback = (progress: StoreProgress) => void;

/** Rate window: long enough to smooth bursts, short enough to follow a changing connection. */
const RATE_WINDOW_MS = 5000;

/**
 * Keeps the byte counts of one download and reports them at most every `intervalMs`, with the rate
 * measured over the last few seconds of newly fetched bytes (stored bytes found at the start do not
 * count as speed).
 */
export class ProgressTracker {
  private readonly state: StoreProgress;
  private fetchedBytes = 0;
  private samples: { atMs: number; fetchedBytes: number }[] = [];
  private lastEmitMs = -Infinity;

  constructor(
    modelId: string,
    private readonly now: () => number,
    private readonly callback: StoreProgressCallback | undefined,
    private readonly intervalMs = 200,
  ) {
    this.state = {
      modelId,
      phase: 'listing',
      fileLoadedBytes: 0,
      fileTotalBytes: 0,
      loadedBytes: 0,
      totalBytes: 0,
      filesDone: 0,
      fileCount: 0,
      bytesPerSecond: 0,
    };
  }

  /** Sets the model's totals once its file list is known. */
  start(totalBytes: number, storedBytes: number, fileCount: number, filesDone: number): void {
    Object.assign(this.state, { phase: 'downloading', totalBytes, loadedBytes: storedBytes, fileCount, filesDone });
    this.emit(true);
  }

  startFile(path: string, loadedBytes: number, totalBytes: number): void {
    Object.assign(this.state, { path, fileLoadedBytes: loadedBytes, fileTotalBytes: totalBytes });
    this.emit(false);
  }

  /** Bytes stored (positive) or discarded (negative) for the current file. */
  add(delta: number): void {
    this.state.fileLoadedBytes += delta;
    this.state.loadedBytes += delta;
    if (delta > 0) this.fetchedBytes += delta;
    this.emit(false);
  }

  /** The file's size became known only from the server. */
  growTotal(fileTotalBytes: number): void {
    this.state.totalBytes += fileTotalBytes - this.state.fileTotalBytes;
    this.state.fileTotalBytes = fileTotalBytes;
  }

  /** The current file is stored complete with `sizeBytes` bytes (also when another tab stored it). */
  finishFile(sizeBytes: number): void {
    this.state.loadedBytes += sizeBytes - this.state.fileLoadedBytes;
    this.state.fileLoadedBytes = sizeBytes;
    this.state.filesDone++;
    this.emit(true);
  }

  finish(): void {
    this.state.phase = 'done';
    delete this.state.path;
    this.emit(true);
  }

  private emit(isForced: boolean): void {
    const nowMs = this.now();
    // a sample per 100 ms is enough for a 5 s window, however many small reads arrive
    const newest = this.samples.at(-1);
    if (!newest || nowMs - newest.atMs >= 100) this.samples.push({ atMs: nowMs, fetchedBytes: this.fetchedBytes });
    while (this.samples.length > 2 && (this.samples[1]?.atMs ?? nowMs) <= nowMs - RATE_WINDOW_MS) this.samples.shift();
    if (!this.callback || (!isForced && nowMs - this.lastEmitMs < this.intervalMs)) return;
    this.lastEmitMs = nowMs;
    const oldest = this.samples[0] ?? { atMs: nowMs, fetchedBytes: this.fetchedBytes };
    const elapsedMs = nowMs - oldest.atMs;
    const progress: StoreProgress = { ...this.state };
    progress.bytesPerSecond = elapsedMs > 0 ? ((this.fetchedBytes - oldest.fetchedBytes) * 1000) / elapsedMs : 0;
    const leftBytes = Math.max(0, progress.totalBytes - progress.loadedBytes);
    if (progress.bytesPerSecond > 0) progress.secondsLeft = leftBytes / progress.bytesPerSecond;
    else if (leftBytes === 0) progress.secondsLeft = 0;
    this.callback(progress);
  }
}
