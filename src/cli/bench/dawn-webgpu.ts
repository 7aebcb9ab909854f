/// <reference types="@webgpu/types" />
import { SdError } from '../../core/errors.ts';
import { trackGpuBuffers, type GpuBufferTracker } from './gpu-buffer-tracker.ts';
import { missingAdapterAdvice } from './vulkan-loader.ts';

/** The adapter as the benchmark reports it. */
export interface AdapterReport {
  vendor: string;
  architecture: string;
  description: string;
  hasShaderF16: boolean;
  /** Bytes. */
  maxBufferSize: number;
  /** Bytes. */
  maxStorageBufferBindingSize: number;
}

/** A WebGPU device in Node, with the accounting of its buffers. */
export interface DawnDevice {
  device: GPUDevice;
  adapter: AdapterReport;
  buffers: GpuBufferTracker;
}

/** Limits the WebGPU EP needs raised for SD-sized tensors; each is requested at the adapter's maximum. */
const RAISED_LIMITS = ['maxBufferSize', 'maxStorageBufferBindingSize', 'maxComputeWorkgroupStorageSize', 'maxComputeInvocationsPerWorkgroup'] as const;

type WriteBuffer = GPUQueue['writeBuffer'];

/**
 * onnxruntime-web uploads from views of its WebAssembly heap, a SharedArrayBuffer, and dawn.node
 * refuses shared memory: copy such a view into an ordinary buffer first.
 */
function copySharedWrites(queueClass: { prototype: GPUQueue }): void {
  const write = queueClass.prototype.writeBuffer as (...a: unknown[]) => undefined;
  const patched = function (this: GPUQueue, buffer: GPUBuffer, offset: number, data: BufferSource, dataOffset = 0, size?: number): undefined {
    if (ArrayBuffer.isView(data) && data.buffer instanceof SharedArrayBuffer) {
      // dataOffset and size count elements of a typed array, bytes of a DataView
      const unit = 'BYTES_PER_ELEMENT' in data ? (data.BYTES_PER_ELEMENT as number) : 1;
      const count = size ?? data.byteLength / unit - dataOffset;
      const copy = new Uint8Array(data.buffer, data.byteOffset + dataOffset * unit, count * unit).slice();
      return write.call(this, buffer, offset, copy, 0, count * unit);
    }
    return write.call(this, buffer, offset, data, dataOffset, size);
  };
  queueClass.prototype.writeBuffer = patched as WriteBuffer;
}

let installed: Promise<GPU> | undefined;

/**
 * Makes Dawn for Node (npm `webgpu`) the `navigator.gpu` of this process, as onnxruntime-web expects
 * in a browser. Must run before onnxruntime-web/webgpu is imported. Dawn talks to the GPU through
 * Vulkan: `VK_ICD_FILENAMES` picks the driver (the NVIDIA ICD on the GPU machine, Chromium's
 * SwiftShader for a software adapter).
 */
function installDawn(): Promise<GPU> {
  installed ??= import('webgpu').then(({ create, globals }) => {
    Object.assign(globalThis, globals);
    const gpu = create([]);
    // Node 21+ defines navigator as a getter: define rather than assign
    const navigator = (globalThis as { navigator?: object }).navigator ?? {};
    Object.defineProperty(navigator, 'gpu', { value: gpu, configurable: true });
    Object.defineProperty(globalThis, 'navigator', { value: navigator, configurable: true, writable: true });
    copySharedWrites((globalThis as unknown as { GPUQueue: { prototype: GPUQueue } }).GPUQueue);
    return gpu;
  });
  return installed;
}

/**
 * Opens the adapter's device with its largest buffer limits (a UNet's attention buffers exceed the
 * 128 MiB default) and `shader-f16` when available, and starts counting its buffers.
 */
export async function openDawnDevice(): Promise<DawnDevice> {
  const gpu = await installDawn();
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) {
    throw new SdError('unsupported-model', missingAdapterAdvice());
  }
  const requiredLimits: Record<string, number> = {};
  for (const name of RAISED_LIMITS) requiredLimits[name] = adapter.limits[name];
  const hasShaderF16 = adapter.features.has('shader-f16');
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures: hasShaderF16 ? ['shader-f16'] : [] });
  const info = adapter.info;
  return {
    device,
    adapter: {
      vendor: info.vendor || 'unknown',
      architecture: info.architecture || 'unknown',
      description: info.description || '',
      hasShaderF16,
      maxBufferSize: adapter.limits.maxBufferSize,
      maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
    },
    buffers: trackGpuBuffers(device),
  };
}
