/// <reference types="@webgpu/types" />
import { SdError } from '../../core/errors.ts';
import { trackGpuBuffers, type GpuBufferTracker } from './gpu-buffer-tracker.ts';
import { requestGpuAdapter, requestGpuDevice, type AdapterSummary } from './gpu-device.ts';
import { missingAdapterAdvice } from './vulkan-loader.ts';

/** A WebGPU device in Node, with the accounting of its buffers. */
export interface DawnDevice {
  device: GPUDevice;
  adapter: AdapterSummary;
  buffers: GpuBufferTracker;
}

type WriteBuffer = GPUQueue['writeBuffer'];

/**
 * onnxruntime-web uploads from views of its WebAssembly heap, a SharedArrayBuffer, and dawn.node
 * refuses shared memory: copy such a view into an ordinary buffer first.
 */
function copySharedWrites(queueClass: { prototype: GPUQueue }): void {
  const write = queueClass.prototype.writeBuffer as (...a: unknown[]) => undefined;
  const patched = function (
    this: GPUQueue,
    buffer: GPUBuffer,
    offset: number,
    data: ArrayBufferView | ArrayBuffer,
    dataOffset = 0,
    size?: number,
  ): undefined {
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
 * Opens the device the worker opens in a browser ({@link requestGpuDevice}: the same raised limits
 * and features), on Dawn, and starts counting its buffers.
 */
export async function openDawnDevice(): Promise<DawnDevice> {
  await installDawn();
  const adapter = await requestGpuAdapter();
  if (!('adapter' in adapter)) throw new SdError('unsupported-model', missingAdapterAdvice());
  const { device, summary } = await requestGpuDevice(adapter);
  return { device, adapter: summary, buffers: trackGpuBuffers(device) };
}
