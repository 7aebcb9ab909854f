import type { InferenceSession } from 'onnxruntime-common';
import { SdError } from '../errors.ts';
import type { Runtime } from '../runtime/runtime.ts';
import { controlNetContract, type ControlNetContract } from './contracts.ts';
import type { OpenedControlNet } from './controlnet-model.ts';

/** A ControlNet session the pipeline runs before each UNet call it steers. */
export interface LoadedControlNet {
  readonly label: string;
  readonly session: InferenceSession;
  readonly contract: ControlNetContract;
  /** `bgr` ControlNets take the control image's channels reversed. */
  readonly channelOrder: 'rgb' | 'bgr';
  release(): Promise<void>;
}

/** Builds the graph of an opened ControlNet and creates its session on `runtime`. */
export async function loadControlNet(
  opened: OpenedControlNet,
  runtime: Runtime,
  label: string,
): Promise<LoadedControlNet> {
  const { model, externalData } = await opened.graph();
  let session: InferenceSession;
  try {
    session = await runtime.createSession(model, externalData);
  } catch (cause) {
    throw new SdError(
      'unsupported-model',
      `Could not load the ControlNet ${label} on ${runtime.name}: ${String(cause instanceof Error ? cause.message : cause).slice(0, 500)}`,
      { cause },
    );
  }
  return {
    label,
    session,
    contract: controlNetContract(session),
    channelOrder: opened.config.channelOrder,
    release: () => session.release(),
  };
}
