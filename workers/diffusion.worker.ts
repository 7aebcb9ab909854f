/// <reference lib="webworker" />
import * as Comlink from 'comlink';
import type { DiffusionApi, GenerateOptions, JobEvent } from './api.ts';
import { DiffusionService } from './diffusion-service.ts';
import { installErrorTransfer } from './error-transfer.ts';

installErrorTransfer();

/** Buffers an event can hand over instead of copying: the PNG, and a preview's pixels. */
function transferablesOf(event: JobEvent): Transferable[] {
  if (event.kind === 'image') return [event.image.png.buffer as ArrayBuffer];
  if (event.kind === 'progress' && event.progress.kind === 'denoise' && event.progress.preview) {
    return [event.progress.preview.rgb.buffer as ArrayBuffer];
  }
  return [];
}

// the build puts this script in assets/, the dev server serves it from workers/: either way the
// site root is one level up
const service = new DiffusionService(new URL('../', self.location.href).href);

const api = {
  describeDevice: () => service.describeDevice(),
  samplerNames: (options) => service.samplerNames(options),
  countTokens: (options) => service.countTokens(options),
  generate: (options: GenerateOptions, onEvent: (event: JobEvent) => void) =>
    service.generate(options, (event) => onEvent(Comlink.transfer(event, transferablesOf(event)))),
  openLocalModel: (options, onProgress) => service.openLocalModel(options, onProgress),
  cancel: (options) => service.cancel(options),
  loseDevice: () => service.loseDevice(),
  storeReport: () => service.storeReport(),
  deleteModel: (options) => service.deleteModel(options),
  clearStore: () => service.clearStore(),
  addLora: (options) => service.addLora(options),
  listLoras: () => service.listLoras(),
  deleteLora: (options) => service.deleteLora(options),
  addControlNet: (options) => service.addControlNet(options),
  listControlNets: () => service.listControlNets(),
  deleteControlNet: (options) => service.deleteControlNet(options),
  preprocessControlImage: async (options) => {
    const preview = await service.preprocessControlImage(options);
    return Comlink.transfer(preview, [preview.png.buffer as ArrayBuffer]);
  },
} satisfies DiffusionApi;

Comlink.expose(api);
