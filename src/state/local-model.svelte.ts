/// <reference types="svelte" />
import type { LocalFile, LocalModelInfo } from '../../workers/api.ts';
import { SdError } from '../core/errors.ts';
import type { WorkerClient } from '../worker-client.ts';

const MB = 1000 * 1000;

/**
 * A model opened from the user's disk: the worker checks the picked files (and copies them into
 * the store when asked); the page keeps the Files and hands them to each job, which reads them in
 * place. Files live as long as the page: after a reload only a kept copy opens.
 */
export class LocalModelState {
  /** Copy the next opened folder into the store (listed there, opens offline later). */
  keepCopy = $state(false);
  /** The last folder the worker accepted, with its files. */
  opened = $state.raw<{ info: LocalModelInfo; files: LocalFile[] } | null>(null);
  isOpening = $state(false);
  /** While a copy is made: "Copying unet/model.onnx into this browser: 12.0 of 40.0 MB". */
  progress = $state<string | null>(null);
  error = $state<{ code: string; message: string } | null>(null);
  /**
   * A diffusers folder picked as the config of a single `.safetensors` file whose architecture the
   * built-in configs do not cover (diffusers' `config=`, the CLI's `--config`); read in place.
   */
  configFiles = $state.raw<LocalFile[] | null>(null);

  constructor(private readonly client: WorkerClient) {}

  /** Opens picked files; resolves to what the worker accepted, or null when it refused them (see `error`). */
  async open(files: LocalFile[], name: string): Promise<LocalModelInfo | null> {
    if (this.isOpening) return null;
    this.error = null;
    this.progress = null;
    if (files.length === 0) {
      this.error = {
        code: 'missing-file',
        message: `${name} holds no files: open the folder of a diffusers ONNX model (the one holding model_index.json, or unet/, text_encoder/ and vae_decoder/).`,
      };
      return null;
    }
    this.isOpening = true;
    try {
      const info = await this.client.openLocalModel({ name, files, keepCopy: this.keepCopy }, (p) => {
        // reports travel on their own channel and may land after the copy is done
        if (!this.isOpening) return;
        const total = p.totalBytes > 0 ? ` of ${(p.totalBytes / MB).toFixed(1)} MB` : '';
        this.progress = `Copying ${p.file} into this browser: ${(p.loadedBytes / MB).toFixed(1)}${total}`;
      });
      this.opened = { info, files };
      return info;
    } catch (e) {
      this.error =
        e instanceof SdError
          ? { code: e.code, message: e.message }
          : { code: 'internal', message: `Could not open ${name}: ${e instanceof Error ? e.message : String(e)}` };
      return null;
    } finally {
      this.isOpening = false;
      this.progress = null;
    }
  }

  /** The config folder a job for `model` carries: for a single file opened here, when one was picked. */
  configFor(model: string): LocalFile[] | undefined {
    const opened = this.opened;
    const isSingleFile = opened?.info.fileCount === 1 && opened.info.model === model.trim();
    return isSingleFile && this.configFiles ? this.configFiles : undefined;
  }

  /** The files a job for `model` carries: the opened folder's when it is read in place, else none. */
  filesFor(model: string): LocalFile[] | undefined {
    const opened = this.opened;
    return opened && !opened.info.isStored && opened.info.model === model.trim() ? opened.files : undefined;
  }
}
