/// <reference types="@webgpu/types" />
import wasmUrl from 'onnxruntime-web/ort-wasm-simd-threaded.asyncify.wasm?url';
import type { OrtWeb } from '../src/platform/ort/web-runtimes.ts';

let ortModule: Promise<OrtWeb> | undefined;

/** Threads for the WASM backend: several need SharedArrayBuffer, which only cross-origin isolated pages have. */
export function wasmThreadCount(): number {
  return globalThis.crossOriginIsolated ? Math.max(1, Math.min(4, navigator.hardwareConcurrency || 1)) : 1;
}

/**
 * Loads onnxruntime-web once, in its own chunk (its threads re-import that chunk by URL), with the
 * .wasm served from this site (no CDN): Vite copies the file and `?url` gives its address.
 */
export function loadOrt(): Promise<OrtWeb> {
  ortModule ??= import('onnxruntime-web/webgpu').then((ort) => {
    ort.env.wasm.wasmPaths = { wasm: new URL(wasmUrl, self.location.href).href };
    ort.env.wasm.numThreads = wasmThreadCount();
    ort.env.logLevel = 'warning';
    return ort;
  });
  return ortModule;
}
