/// <reference types="@webgpu/types" />

/** Bytes of GPU buffers a device holds, as far as `createBuffer` and `destroy` show it. */
export interface GpuBufferTracker {
  /** Buffers created and not yet destroyed (or collected), bytes. */
  readonly liveBytes: number;
  /** Largest `liveBytes` seen so far, bytes. */
  readonly peakBytes: number;
  /** Buffers created so far. */
  readonly created: number;
}

/**
 * Observes every buffer made through `device.createBuffer` (onnxruntime-web's WebGPU EP allocates
 * weights, activations and staging buffers this way) to give the GPU memory the process uses, which
 * WebGPU does not report. Textures and the driver's own allocations are not included. Must be
 * installed before the first session is created on the device.
 */
export function trackGpuBuffers(device: GPUDevice): GpuBufferTracker {
  const state = { liveBytes: 0, peakBytes: 0, created: 0 };
  const live = new Set<object>();
  // a buffer dropped without destroy() is freed by the garbage collector; count it out then
  const collected = new FinalizationRegistry<{ size: number; token: object }>(({ size, token }) => {
    if (live.delete(token)) state.liveBytes -= size;
  });
  const create = device.createBuffer.bind(device);
  Object.defineProperty(device, 'createBuffer', {
    configurable: true,
    value(descriptor: GPUBufferDescriptor): GPUBuffer {
      const buffer = create(descriptor);
      const size = Number(descriptor.size);
      const token = {};
      live.add(token);
      state.created++;
      state.liveBytes += size;
      state.peakBytes = Math.max(state.peakBytes, state.liveBytes);
      collected.register(buffer, { size, token });
      const destroy = buffer.destroy.bind(buffer);
      Object.defineProperty(buffer, 'destroy', {
        configurable: true,
        value(): undefined {
          if (live.delete(token)) state.liveBytes -= size;
          return destroy();
        },
      });
      return buffer;
    },
  });
  return state;
}
