/** Progress of one generation job, one tagged union for every stage (structured-clone safe). */
export type Progress =
  | { kind: 'download'; file: string; loadedBytes: number; totalBytes: number }
  | { kind: 'load'; component: string; index: number; count: number }
  | { kind: 'encode'; image: number; images: number }
  | {
      kind: 'denoise';
      /** 0-based image of the batch. */
      image: number;
      images: number;
      /** Model calls done for this image, 1..calls. */
      step: number;
      steps: number;
      elapsedMs: number;
      /** Optional preview: 8-bit RGB of the predicted clean image (latent-space approximation, 1/8 size). */
      preview?: { rgb: Uint8Array; width: number; height: number };
    }
  | { kind: 'decode'; image: number; images: number }
  | { kind: 'done'; image: number; images: number };

export type ProgressCallback = (p: Progress) => void;
