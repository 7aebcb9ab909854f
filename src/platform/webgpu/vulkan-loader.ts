import { existsSync } from 'node:fs';

/** Folders where Linux distributions install shared libraries (Debian multiarch first). */
const LIBRARY_DIRS = [
  '/usr/lib/x86_64-linux-gnu',
  '/usr/lib/aarch64-linux-gnu',
  '/lib/x86_64-linux-gnu',
  '/lib/aarch64-linux-gnu',
  '/usr/lib64',
  '/usr/lib',
  '/usr/local/lib',
];

/**
 * Whether the system Vulkan loader (`libvulkan.so.1`), which Dawn opens, can be found on Linux.
 * Debian's `chromium` carries a private copy that Dawn does not see, so a machine can have Chromium's
 * SwiftShader driver and still no loader. Other platforms (and `LD_LIBRARY_PATH` setups) are assumed
 * to have one: the check only adds advice to an error, it never blocks.
 */
export function hasVulkanLoader(): boolean {
  if (process.platform !== 'linux') return true;
  const extra = (process.env['LD_LIBRARY_PATH'] ?? '').split(':').filter((dir) => dir !== '');
  return [...extra, ...LIBRARY_DIRS].some((dir) => existsSync(`${dir}/libvulkan.so.1`));
}

/** What to do when Dawn finds no adapter, most likely cause first. */
export function missingAdapterAdvice(): string {
  const icd = process.env['VK_ICD_FILENAMES'] ?? 'unset';
  if (!hasVulkanLoader()) {
    return `Dawn (WebGPU in Node) found no adapter: the system Vulkan loader libvulkan.so.1 is not installed (Debian/Ubuntu: apt-get install libvulkan1; Chromium's own copy is private to it). VK_ICD_FILENAMES=${icd}.`;
  }
  return `Dawn (WebGPU in Node) found no adapter (VK_ICD_FILENAMES=${icd}). Point VK_ICD_FILENAMES at a Vulkan driver manifest: the GPU's (e.g. /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json) or, for a software adapter, /usr/lib/chromium/vk_swiftshader_icd.json (Debian's chromium); or use --backend cpu.`;
}
