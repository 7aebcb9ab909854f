import type { Tensor } from 'onnxruntime-common';
import { SdError } from '../errors.ts';
import type { UnetContract, ValueInfo } from '../models/contracts.ts';
import type { LoadedControlNet } from '../models/load-controlnet.ts';
import type { Runtime } from '../runtime/runtime.ts';
import { floatTensor, readFloats } from '../runtime/tensor-data.ts';
import { resizeRgb } from './image.ts';
import type { ControlUnit } from './request.ts';

/**
 * The ControlNet half of diffusers' `StableDiffusionControlNetPipeline`: per model call, each
 * ControlNet whose [start, end] window holds the call runs on the same input as the UNet (both
 * halves of guidance, the control image repeated), and its residuals, summed over the ControlNets,
 * feed the UNet's `down_block_additional_residual_N` / `mid_block_additional_residual`. Calls
 * outside every window feed zeros. The residuals are model outputs fed straight to the UNet: the
 * latents' linear plan (device loop) does not see them.
 */

/**
 * diffusers' `controlnet_keep[i]`: 1 when model call `i` of `calls` lies in the window, else 0
 * (`1 - (i / calls < start or (i + 1) / calls > end)`).
 */
export function controlKeep(i: number, calls: number, start: number, end: number): number {
  return i / calls < start || (i + 1) / calls > end ? 0 : 1;
}

/**
 * The control image as the ControlNet takes it: resized to the generation size, scaled to [0, 1]
 * (`np.float32(x) / 255`, as diffusers' `VaeImageProcessor(do_normalize=False)`), NCHW, channels
 * reversed for `bgr` ControlNets. @returns Float32Array [1, 3, height, width]
 */
export function controlImageInput(
  unit: ControlUnit,
  width: number,
  height: number,
  order: 'rgb' | 'bgr',
): Float32Array {
  const { image } = unit;
  const rgb = resizeRgb(image.rgb, image.width, image.height, width, height);
  const plane = width * height;
  const out = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) {
      const channel = order === 'bgr' ? 2 - c : c;
      out[channel * plane + i] = (rgb[i * 3 + c] as number) / 255;
    }
  }
  return out;
}

/** One ControlNet with its unit and its control image input. */
interface Steering {
  net: LoadedControlNet;
  unit: ControlUnit;
  image: Float32Array;
}

/** The inputs of one UNet run that carry residuals, and what to dispose after the run. */
export interface ResidualFeeds {
  feeds: Record<string, Tensor>;
  dispose(): void;
}

/** The latent-size divisor of a residual input, from its declared `height_div_D` dimension. */
function divisorOf(info: ValueInfo): number {
  const m = /_div_(\d+)$/.exec(String(info.shape[2]));
  return m === null ? 1 : Number(m[1]);
}

/** Runs the ControlNets of a generation for the UNet's model calls. */
export class ControlResiduals {
  private readonly steering: Steering[];
  private readonly zeros = new Map<string, Record<string, Tensor>>();
  private readonly images = new Map<string, Tensor>();
  private readonly scales = new Map<Steering, Tensor>();

  /**
   * @param calls the number of model calls the schedule has (`scheduler.timesteps.length`), the
   *   denominator of the start / end fractions
   */
  constructor(
    private readonly runtime: Runtime,
    private readonly unet: UnetContract,
    nets: readonly LoadedControlNet[],
    units: readonly ControlUnit[],
    private readonly calls: number,
    private readonly width: number,
    private readonly height: number,
  ) {
    if (units.length !== nets.length) {
      throw new SdError(
        'bad-argument',
        `${units.length} ControlNet units were given for ${nets.length} loaded ControlNets: give one control image and its settings per ControlNet.`,
      );
    }
    if (units.length > 0 && (unet.downResiduals.length === 0 || unet.midResidual === undefined)) {
      throw new SdError(
        'unknown-contract',
        'The UNet takes no ControlNet residuals ("down_block_additional_residual_N", "mid_block_additional_residual"): load the model with ControlNet support (a safetensors model built with controlResiduals).',
      );
    }
    for (const net of nets) {
      if (net.contract.downOutputs.length !== unet.downResiduals.length) {
        throw new SdError(
          'unsupported-model',
          `The ControlNet ${net.label} gives ${net.contract.downOutputs.length} down residuals; the UNet takes ${unet.downResiduals.length}. Use a ControlNet for this model's architecture.`,
        );
      }
    }
    this.steering = nets.map((net, i) => ({
      net,
      unit: units[i]!,
      image: controlImageInput(units[i]!, width, height, net.channelOrder),
    }));
  }

  /** Whether the UNet has residual inputs to feed. */
  get isActive(): boolean {
    return this.unet.downResiduals.length > 0 && this.unet.midResidual !== undefined;
  }

  /**
   * The residual inputs of one UNet run.
   * @param constants the run's unchanging UNet inputs (text conditioning), shared with the ControlNets
   * @param sample the UNet's input [batch, 4, h, w]
   * @param timestep the timestep tensor of the ControlNet (the UNet's contract, same values)
   * @param callIndex the model call's index in the schedule
   */
  async feeds(
    pass: number,
    batch: number,
    sample: Tensor,
    timestep: (info: ValueInfo) => Tensor,
    constants: Readonly<Record<string, Tensor>>,
    callIndex: number,
  ): Promise<ResidualFeeds> {
    const names = [...this.unet.downResiduals.map((r) => r.name), this.unet.midResidual!.name];
    const active = this.steering
      .map((s) => ({ s, scale: s.unit.weight * controlKeep(callIndex, this.calls, s.unit.start, s.unit.end) }))
      .filter((a) => a.scale !== 0);
    if (active.length === 0) return { feeds: this.zerosFor(pass, batch, sample.dims), dispose: () => undefined };
    const outputs: Tensor[][] = [];
    for (const { s, scale } of active) {
      const c = s.net.contract;
      const feeds: Record<string, Tensor> = {
        [c.sample.name]: sample,
        [c.timestep.name]: timestep(c.timestep),
        [c.encoderHiddenStates.name]: constants[this.unet.encoderHiddenStates.name]!,
        [c.cond.name]: this.imageFor(pass, batch, s),
        [c.scale.name]: this.scaleFor(s, scale),
      };
      if (c.textEmbeds && this.unet.textEmbeds) feeds[c.textEmbeds.name] = constants[this.unet.textEmbeds.name]!;
      if (c.timeIds && this.unet.timeIds) feeds[c.timeIds.name] = constants[this.unet.timeIds.name]!;
      const wanted = [...c.downOutputs.map((o) => o.name), c.midOutput.name];
      const result = await s.net.session.run(feeds, wanted);
      outputs.push(wanted.map((name) => result[name]!));
    }
    if (outputs.length === 1) {
      const own = outputs[0]!;
      return {
        feeds: Object.fromEntries(names.map((name, i) => [name, own[i]!])),
        dispose: () => own.forEach((t) => t.dispose()),
      };
    }
    // Multi-ControlNet: diffusers sums the residuals of every ControlNet
    const summed: Record<string, Tensor> = {};
    for (const [i, name] of names.entries()) {
      const first = outputs[0]![i]!;
      const sum = (await readFloats(first)).slice();
      for (const other of outputs.slice(1)) {
        const values = await readFloats(other[i]!);
        for (let j = 0; j < sum.length; j++) sum[j] = (sum[j] as number) + (values[j] as number);
      }
      const info = i < names.length - 1 ? this.unet.downResiduals[i]! : this.unet.midResidual!;
      summed[name] = floatTensor(this.runtime, info.type, sum, first.dims);
    }
    outputs.flat().forEach((t) => t.dispose());
    return { feeds: summed, dispose: () => Object.values(summed).forEach((t) => t.dispose()) };
  }

  /** The conditioning-scale input of a ControlNet: its unit's weight in every call it steers, made once. */
  private scaleFor(s: Steering, scale: number): Tensor {
    let tensor = this.scales.get(s);
    if (tensor === undefined) {
      tensor = floatTensor(this.runtime, s.net.contract.scale.type, Float32Array.of(scale), [1]);
      this.scales.set(s, tensor);
    }
    return tensor;
  }

  /** The control image repeated `batch` times, made once per pass and ControlNet (constant for the generation). */
  private imageFor(pass: number, batch: number, s: Steering): Tensor {
    const key = `${pass}:${this.steering.indexOf(s)}`;
    let tensor = this.images.get(key);
    if (tensor === undefined) {
      const one = s.image;
      const data = new Float32Array(one.length * batch);
      for (let b = 0; b < batch; b++) data.set(one, b * one.length);
      tensor = floatTensor(this.runtime, s.net.contract.cond.type, data, [batch, 3, this.height, this.width]);
      this.images.set(key, tensor);
    }
    return tensor;
  }

  /** Zero residuals for a pass whose calls no ControlNet steers. */
  private zerosFor(pass: number, batch: number, sampleDims: readonly number[]): Record<string, Tensor> {
    const key = `${pass}:${sampleDims.join('x')}`;
    let feeds = this.zeros.get(key);
    if (feeds === undefined) {
      const [, , h, w] = sampleDims as [number, number, number, number];
      feeds = {};
      for (const info of [...this.unet.downResiduals, this.unet.midResidual!]) {
        const d = divisorOf(info);
        const dims = [batch, info.shape[1] as number, Math.ceil(h / d), Math.ceil(w / d)];
        feeds[info.name] = floatTensor(this.runtime, info.type, new Float32Array(dims.reduce((a, b) => a * b)), dims);
      }
      this.zeros.set(key, feeds);
    }
    return feeds;
  }
}
