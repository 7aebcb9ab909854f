import type { InferenceSession, Tensor } from 'onnxruntime-common';
import type { LatentBackend, LatentBackendOptions } from './latent-backend.ts';
import type { BlobLike } from '../io/blob-like.ts';

/** One external weights file of an ONNX model; `path` equals the location string inside the .onnx. */
export interface ExternalDataFile {
  path: string;
  /** The bytes, or a Blob (onnxruntime-web reads it itself; onnxruntime-node needs bytes). */
  data: Uint8Array | BlobLike;
}

/** Element types the pipeline feeds or reads. */
export type ElementType = 'float32' | 'float16' | 'int32' | 'int64';

/**
 * The inference backend the pipeline runs on: onnxruntime-node in the CLI, onnxruntime-web
 * (WebGPU or WASM) in the browser worker. Both share onnxruntime-common's session API, so this
 * interface only covers what differs: how sessions are made and which `Tensor` class to use.
 */
export interface Runtime {
  /** Human-readable name, e.g. "onnxruntime-node (cpu)" or "onnxruntime-web (webgpu)". */
  readonly name: string;
  createSession(model: Uint8Array, externalData: readonly ExternalDataFile[]): Promise<InferenceSession>;
  tensor(
    type: ElementType,
    data: Float32Array | Uint16Array | Int32Array | BigInt64Array,
    dims: readonly number[],
  ): Tensor;
  /**
   * Where the denoising loop can keep its latents between model calls (WebGPU: GPU buffers on the
   * sessions' device), one backend per generation. Absent: the loop runs on CPU arrays.
   */
  latentBackend?(options: LatentBackendOptions): LatentBackend;
}

/** The parts of an onnxruntime module (node or web) the adapter uses. */
export interface OrtModule {
  InferenceSession: { create(model: Uint8Array, options?: InferenceSession.SessionOptions): Promise<InferenceSession> };
  Tensor: new (
    type: ElementType,
    data: Float32Array | Uint16Array | Int32Array | BigInt64Array,
    dims: readonly number[],
  ) => Tensor;
}

/** Wraps an onnxruntime module with fixed session options. */
export function createOrtRuntime(
  ort: OrtModule,
  name: string,
  sessionOptions: InferenceSession.SessionOptions = {},
  /** onnxruntime-web takes external data as a Blob and reads it itself; onnxruntime-node needs bytes. */
  { acceptsBlobs = false }: { acceptsBlobs?: boolean } = {},
): Runtime {
  return {
    name,
    async createSession(model, externalData) {
      const options: InferenceSession.SessionOptions = { ...sessionOptions };
      if (externalData.length > 0) {
        const files = [];
        for (const f of externalData) {
          const data =
            f.data instanceof Uint8Array || acceptsBlobs ? f.data : new Uint8Array(await f.data.arrayBuffer());
          // a BlobLike here is the platform's Blob, which onnxruntime-web accepts as it is
          files.push({ path: f.path, data: data as Uint8Array });
        }
        options.externalData = files;
      }
      return ort.InferenceSession.create(model, options);
    },
    tensor(type, data, dims) {
      return new ort.Tensor(type, data, dims);
    },
  };
}
