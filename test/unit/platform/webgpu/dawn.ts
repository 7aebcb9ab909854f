/// <reference types="@webgpu/types" />
import { existsSync } from 'node:fs';
import type { DawnDevice } from '../../../../src/platform/webgpu/dawn.ts';

/** Chromium's software Vulkan driver: WebGPU in Node without a GPU. */
const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

/**
 * A WebGPU device in Node (Dawn), on SwiftShader unless VK_ICD_FILENAMES names another driver.
 * @throws when it cannot open one, with a one-line message (no stack) naming what is missing
 */
export async function openTestDevice(): Promise<DawnDevice> {
  if (!process.env['VK_ICD_FILENAMES']) {
    if (!existsSync(SWIFTSHADER_ICD))
      throw oneLine(
        `No Vulkan driver for WebGPU in Node: install Debian's chromium (for ${SWIFTSHADER_ICD}) or set VK_ICD_FILENAMES.`,
      );
    process.env['VK_ICD_FILENAMES'] = SWIFTSHADER_ICD;
  }
  const { openDawnDevice } = await import('../../../../src/platform/webgpu/dawn.ts');
  try {
    return await openDawnDevice();
  } catch (error) {
    throw oneLine(error instanceof Error ? error.message : String(error));
  }
}

/** An error that test runners print as its message alone: what is missing matters, not where. */
function oneLine(message: string): Error {
  const error = new Error(message);
  error.stack = `Error: ${message}`;
  return error;
}

/** A GPU buffer's bytes [offset, offset + size) as float32 values (through a mapped copy). */
export async function readBuffer(
  device: GPUDevice,
  buffer: GPUBuffer,
  size = buffer.size,
  offset = 0,
): Promise<ArrayBuffer> {
  const staging = device.createBuffer({ size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const encoder = device.createCommandEncoder();
  encoder.copyBufferToBuffer(buffer, offset, staging, 0, size);
  device.queue.submit([encoder.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  const bytes = staging.getMappedRange().slice(0);
  staging.destroy();
  return bytes;
}
