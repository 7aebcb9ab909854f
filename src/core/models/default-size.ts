import type { ModelFamily } from './load-model.ts';

/**
 * The image side in pixels used when a request leaves width or height out: 1024 for SDXL, 512 for
 * SD 1.x and SD 2.x (SD-Turbo included). The worker, the CLI and (through `ModelSummary.defaultSize`)
 * the page all take it from here.
 */
export function defaultSizeOf(family: ModelFamily): number {
  return family === 'sdxl' ? 1024 : 512;
}
