/// <reference types="@webgpu/types" />
/**
 * The one compute kernel of the WebGPU latent backend: a weighted sum of latent-sized buffers.
 *
 * A pass adds up to `SOURCES_PER_PASS` sources to an accumulator; a sum of more sources chains
 * passes through two float32 scratch buffers, and the last pass applies the scale and writes every
 * replica of the result, as float32 or float16. Chaining keeps the kernel within WebGPU's default
 * limit of 8 storage buffers per shader stage (accumulator in, output, 6 sources) whatever the
 * number of sources. Each invocation handles two neighbouring elements, so float16 data is read and
 * written as whole 32-bit words with `unpack2x16float` / `pack2x16float`: core WGSL, no `shader-f16`.
 */

/** Sources one pass reads: 8 storage buffers per stage (WebGPU's default) minus the accumulator and the output. */
export const SOURCES_PER_PASS = 6;
export const WORKGROUP_SIZE = 64;
/** Bytes of one pass's parameters; uniform buffer offsets must be multiples of 256. */
export const PARAMS_STRIDE = 256;

const FLAG_ACCUMULATE = 1;
const FLAG_FINAL = 2;
const FLAG_HALF_OUTPUT = 4;

const sourceBindings = Array.from(
  { length: SOURCES_PER_PASS },
  (_, j) => `@group(0) @binding(${3 + j}) var<storage, read> s${j}: array<u32>;`,
).join('\n');
const sourceCases = Array.from({ length: SOURCES_PER_PASS }, (_, j) => `    case ${j}u: { return s${j}[i]; }`).join(
  '\n',
);

export const COMBINE_WGSL = /* wgsl */ `
struct Params {
  pairs: u32,      // elements per replica / 2
  replicas: u32,
  count: u32,      // sources in this pass
  flags: u32,      // 1: add acc_in; 2: last pass (scale, replicas, output type); 4: float16 output
  scale: f32,
  halfMask: u32,   // bit j: source j holds float16
  pad0: u32,
  pad1: u32,
  coeffs: array<vec4<f32>, 2>,
  offsets: array<vec4<u32>, 2>,  // first element of each source in its buffer (even)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> accIn: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read_write> result: array<u32>;
${sourceBindings}

fn word(j: u32, i: u32) -> u32 {
  switch j {
${sourceCases}
    default: { return 0u; }
  }
}

fn load(j: u32, pair: u32) -> vec2<f32> {
  let offset = p.offsets[j / 4u][j % 4u];
  if (((p.halfMask >> j) & 1u) == 1u) {
    return unpack2x16float(word(j, offset / 2u + pair));
  }
  let k = offset + 2u * pair;
  return vec2<f32>(bitcast<f32>(word(j, k)), bitcast<f32>(word(j, k + 1u)));
}

@compute @workgroup_size(${WORKGROUP_SIZE})
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let pair = id.x;
  if (pair >= p.pairs) { return; }
  var acc = vec2<f32>(0.0, 0.0);
  if ((p.flags & 1u) != 0u) { acc = accIn[pair]; }
  for (var j = 0u; j < p.count; j++) {
    acc = acc + p.coeffs[j / 4u][j % 4u] * load(j, pair);
  }
  if ((p.flags & 2u) == 0u) {
    result[2u * pair] = bitcast<u32>(acc.x);
    result[2u * pair + 1u] = bitcast<u32>(acc.y);
    return;
  }
  let v = acc * p.scale;
  for (var r = 0u; r < p.replicas; r++) {
    if ((p.flags & 4u) != 0u) {
      result[r * p.pairs + pair] = pack2x16float(v);
    } else {
      let k = 2u * (r * p.pairs + pair);
      result[k] = bitcast<u32>(v.x);
      result[k + 1u] = bitcast<u32>(v.y);
    }
  }
}
`;

/** One source as a pass reads it. */
export interface PassSource {
  buffer: GPUBuffer;
  /** First element in the buffer (even). */
  offset: number;
  isHalf: boolean;
  coefficient: number;
}

/** One pass's parameters, packed as the WGSL `Params` struct. */
export function packParams(o: {
  pairs: number;
  replicas: number;
  sources: readonly PassSource[];
  accumulate: boolean;
  final: boolean;
  halfOutput: boolean;
  scale: number;
}): ArrayBuffer {
  const data = new ArrayBuffer(96);
  const u = new Uint32Array(data);
  const f = new Float32Array(data);
  u[0] = o.pairs;
  u[1] = o.replicas;
  u[2] = o.sources.length;
  u[3] = (o.accumulate ? FLAG_ACCUMULATE : 0) | (o.final ? FLAG_FINAL : 0) | (o.halfOutput ? FLAG_HALF_OUTPUT : 0);
  f[4] = o.scale;
  u[5] = o.sources.reduce((mask, s, j) => mask | (s.isHalf ? 1 << j : 0), 0);
  o.sources.forEach((s, j) => {
    f[8 + j] = s.coefficient;
    u[16 + j] = s.offset;
  });
  return data;
}

/** The kernel's pipeline and bind group layout on a device. */
export function createCombinePipeline(device: GPUDevice): { pipeline: GPUComputePipeline; layout: GPUBindGroupLayout } {
  const storage = (binding: number, type: GPUBufferBindingType): GPUBindGroupLayoutEntry => ({
    binding,
    visibility: GPUShaderStage.COMPUTE,
    buffer: { type },
  });
  const layout = device.createBindGroupLayout({
    label: 'latent combine',
    entries: [
      { binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform' } },
      storage(1, 'read-only-storage'),
      storage(2, 'storage'),
      ...Array.from({ length: SOURCES_PER_PASS }, (_, j) => storage(3 + j, 'read-only-storage')),
    ],
  });
  const module = device.createShaderModule({ label: 'latent combine', code: COMBINE_WGSL });
  const pipeline = device.createComputePipeline({
    label: 'latent combine',
    layout: device.createPipelineLayout({ bindGroupLayouts: [layout] }),
    compute: { module, entryPoint: 'main' },
  });
  return { pipeline, layout };
}
