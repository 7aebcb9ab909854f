/// <reference types="svelte" />
import type { ControlNetEntry, InitImageFile, LocalFile } from '../../workers/api.ts';
import { controlNetsOfFiles } from '../lib/controlnet-files.ts';
import type { WorkerClient } from '../worker-client.ts';
import { PanelOperations } from './panel-operations.svelte.ts';

/** A picked image as the panel shows it: the encoded file (decoded in the worker) and a thumbnail URL. */
export interface PickedImage extends InitImageFile {
  name: string;
  /** Object URL of the file. */
  url: string;
}

/** A preprocessed control image (a PNG from the worker) as an object URL, with the spec that made it. */
export interface ControlPreviewView {
  url: string;
  width: number;
  height: number;
  preprocessor: string;
}

/**
 * The control image of one ControlNet unit and its preprocessed preview. The image is the user's: it is
 * kept here, apart from the settings, so that no link or PNG carries it.
 */
export class ControlImage {
  image = $state.raw<PickedImage | null>(null);
  /** Why the last file was not taken (not an image). */
  error = $state<string | null>(null);
  preview = $state.raw<ControlPreviewView | null>(null);
  previewError = $state<string | null>(null);
  isPreviewing = $state(false);
  /** Counts preview requests: an answer to an older one is dropped. */
  #requests = 0;

  constructor(private readonly client: WorkerClient) {}

  /** The image for a job (the caller copies or transfers the bytes it hands on). */
  get file(): InitImageFile | null {
    return this.image ? { bytes: this.image.bytes, type: this.image.type } : null;
  }

  async take(file: File): Promise<void> {
    if (!file.type.startsWith('image/')) {
      this.error = `${file.name} is ${file.type || 'not an image'}: use a PNG, JPEG or WebP image.`;
      return;
    }
    const bytes = new Uint8Array(await file.arrayBuffer());
    this.clear();
    this.image = { bytes, type: file.type, name: file.name, url: URL.createObjectURL(file) };
  }

  clear(): void {
    if (this.image) URL.revokeObjectURL(this.image.url);
    this.image = null;
    this.error = null;
    this.#showPreview(null);
    this.previewError = null;
  }

  /** Runs `preprocessor` on the image in the worker and shows the result; without an image, clears it. */
  async refreshPreview(preprocessor: string): Promise<void> {
    const request = ++this.#requests;
    const image = this.image;
    if (!image) {
      this.isPreviewing = false;
      return;
    }
    this.isPreviewing = true;
    try {
      const result = await this.client.preprocessControlImage({
        image: { bytes: image.bytes.slice(), type: image.type },
        preprocessor,
      });
      if (request !== this.#requests) return;
      const url = URL.createObjectURL(new Blob([result.png as Uint8Array<ArrayBuffer>], { type: 'image/png' }));
      this.#showPreview({ url, width: result.width, height: result.height, preprocessor });
      this.previewError = null;
    } catch (e) {
      if (request !== this.#requests) return;
      this.#showPreview(null);
      this.previewError = `Could not preprocess ${image.name} (${preprocessor}): ${e instanceof Error ? e.message : String(e)}`;
    } finally {
      if (request === this.#requests) this.isPreviewing = false;
    }
  }

  #showPreview(preview: ControlPreviewView | null): void {
    if (this.preview) URL.revokeObjectURL(this.preview.url);
    this.preview = preview;
  }
}

/**
 * The ControlNets kept in this browser, as the ControlNet panel lists them, and the control image of
 * each unit (one unit for now: A1111's "ControlNet Unit 0"). The worker stores, lists and deletes them
 * (it owns IndexedDB); operations run one at a time and end with a fresh listing.
 */
export class ControlNetState extends PanelOperations {
  entries = $state.raw<ControlNetEntry[]>([]);
  /** Each unit's control image, by unit index. */
  readonly images: readonly ControlImage[];

  constructor(private readonly client: WorkerClient) {
    super('The ControlNet operation failed');
    this.images = [new ControlImage(client)];
  }

  get names(): string[] {
    return this.entries.map((e) => e.name);
  }

  async refresh(): Promise<void> {
    try {
      this.entries = await this.client.listControlNets();
    } catch (e) {
      this.fail(e, 'Could not list the stored ControlNets');
    }
  }

  /**
   * Stores picked or dropped files (see `controlNetsOfFiles`: a folder is one ControlNet named after it),
   * one ControlNet after another; resolves with the names stored (a failure stops there, saying why).
   */
  async add(entries: readonly LocalFile[]): Promise<string[]> {
    const added: string[] = [];
    await this.operate(async () => {
      for (const options of controlNetsOfFiles(entries)) added.push((await this.client.addControlNet(options)).name);
      return `Added ${added.join(', ')}.`;
    });
    return added;
  }

  /** Stores a `.safetensors` URL; resolves with its name, or undefined when it failed. */
  async addUrl(url: string): Promise<string | undefined> {
    let name: string | undefined;
    await this.operate(async () => {
      name = (await this.client.addControlNet({ url })).name;
      return `Added ${name}.`;
    });
    return name;
  }

  delete(name: string): Promise<void> {
    return this.operate(async () => {
      await this.client.deleteControlNet({ name });
      return `Deleted ${name}.`;
    });
  }
}
