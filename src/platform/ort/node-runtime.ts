import { SdError } from '../../core/errors.ts';
import { createOrtRuntime, type OrtModule, type Runtime } from '../../core/runtime/runtime.ts';

export type NodeBackend = 'cpu' | 'wasm';

/**
 * The inference runtime for Node: onnxruntime-node (native CPU, the default) or onnxruntime-web's
 * WASM backend (the same kernels the browser falls back to).
 */
export async function createNodeRuntime(backend: NodeBackend = 'cpu'): Promise<Runtime> {
  if (backend === 'cpu') {
    const ort = (await import('onnxruntime-node')) as unknown as OrtModule;
    return createOrtRuntime(ort, 'onnxruntime-node (cpu)', { executionProviders: ['cpu'] });
  }
  if (backend === 'wasm') {
    const ort = await import('onnxruntime-web/wasm');
    ort.env.wasm.numThreads = 1;
    return createOrtRuntime(ort as unknown as OrtModule, 'onnxruntime-web (wasm)', { executionProviders: ['wasm'] });
  }
  throw new SdError('bad-argument', `Unknown backend "${String(backend)}". Expected one of: cpu, wasm.`);
}
