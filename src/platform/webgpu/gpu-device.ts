/// <reference types="@webgpu/types" />

/** What a WebGPU adapter offers, for the device panel and the benchmark report. Sizes in bytes. */
export interface AdapterSummary {
  vendor: string;
  architecture: string;
  description: string;
  hasShaderF16: boolean;
  maxBufferSize: number;
  maxStorageBufferBindingSize: number;
}

/** A WebGPU adapter with its summary for the device panel. */
export interface GpuAdapter {
  adapter: GPUAdapter;
  summary: AdapterSummary;
}

/** The one GPUDevice every session of the worker shares, and what became of it. */
export interface GpuDevice {
  device: GPUDevice;
  summary: AdapterSummary;
  /** Set once the device is lost (driver reset, out of memory, `destroy()`); a lost device never comes back. */
  lostReason: string | undefined;
}

/** Limits onnxruntime-web's WebGPU EP benefits from; each is requested at the adapter's maximum. */
const RAISED_LIMITS = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ',
  'maxComputeWorkgroupsPerDimension',
] as const;

/** The adapter, or why there is none (the page shows the reason next to the WASM backend). */
export async function requestGpuAdapter(): Promise<GpuAdapter | { reason: string }> {
  const gpu = (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
  if (!gpu)
    return {
      reason:
        'this browser exposes no WebGPU (navigator.gpu is missing; it needs a secure context, https or localhost)',
    };
  let adapter: GPUAdapter | null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch (e) {
    return { reason: `WebGPU refused an adapter (${String(e)})` };
  }
  if (!adapter) return { reason: 'WebGPU found no usable adapter (GPU blocklisted or disabled)' };
  const info = adapter.info;
  return {
    adapter,
    summary: {
      vendor: info.vendor || 'unknown',
      architecture: info.architecture || 'unknown',
      description: info.description,
      hasShaderF16: adapter.features.has('shader-f16'),
      maxBufferSize: adapter.limits.maxBufferSize,
      maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
    },
  };
}

/**
 * Requests the device the sessions share: the adapter's largest buffer limits (a UNet's attention
 * buffers exceed the 128 MiB default) and `shader-f16` when the adapter has it.
 */
export async function requestGpuDevice(gpu: GpuAdapter): Promise<GpuDevice> {
  const requiredLimits: Record<string, number> = {};
  for (const name of RAISED_LIMITS) requiredLimits[name] = gpu.adapter.limits[name];
  const requiredFeatures: GPUFeatureName[] = gpu.summary.hasShaderF16 ? ['shader-f16'] : [];
  const device = await gpu.adapter.requestDevice({ requiredLimits, requiredFeatures, label: 'sd-web' });
  const handle: GpuDevice = { device, summary: gpu.summary, lostReason: undefined };
  void device.lost.then((info) => {
    handle.lostReason = `${info.reason}${info.message ? `: ${info.message}` : ''}`;
  });
  return handle;
}
