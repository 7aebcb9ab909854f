import { SdError } from '../errors.ts';
import {
  encodeOnnxModel,
  type OnnxAttribute,
  type OnnxDataType,
  type OnnxNode,
  type OnnxTensor,
  type OnnxValueInfo,
  type TensorData,
} from './onnx-model.ts';

/** Attribute values as written in graph code: plain integers, integer lists and strings, or a typed {@link OnnxAttribute} (floats, tensors). */
export type AttributeInput = number | bigint | string | readonly number[] | OnnxAttribute;

/** Options of one node. */
export interface NodeOptions {
  domain?: string;
  /** Name of the output value (default: generated from the scope and op type). */
  output?: string;
}

/** The ONNX opset the builders target, and the contrib-op domain version. */
export const ONNX_OPSET = 17;
export const MICROSOFT_OPSET = 1;

/** A float attribute (plain numbers are ints, since ONNX tells them apart). */
export function float(value: number): OnnxAttribute {
  return { type: 'float', value };
}

/** A list-of-floats attribute. */
export function floats(value: readonly number[]): OnnxAttribute {
  return { type: 'floats', value };
}

/**
 * Builds an ONNX graph node by node, naming values after the scope they are made in, so graph code
 * reads like the model it ports: `g.scope('layers.0', () => g.op('MatMul', [x, w]))`. Values are
 * referred to by name (strings). Small constants are stored inside the model; weights are
 * initializers with external data.
 */
export class GraphBuilder {
  private readonly nodes: OnnxNode[] = [];
  private readonly initializers: OnnxTensor[] = [];
  private readonly inputs: OnnxValueInfo[] = [];
  private readonly outputs: OnnxValueInfo[] = [];
  private readonly names = new Set<string>();
  private readonly constants = new Map<string, string>();
  private readonly scopes: string[] = [];
  private counter = 0;

  constructor(readonly name: string) {}

  /** Runs `build` with `prefix` added to the names of the nodes and values it makes. */
  scope<T>(prefix: string, build: () => T): T {
    this.scopes.push(prefix);
    try {
      return build();
    } finally {
      this.scopes.pop();
    }
  }

  /** Declares a graph input; strings in `shape` are symbolic dimensions (e.g. `'batch'`). */
  input(name: string, dataType: OnnxDataType, shape: readonly (number | string)[]): string {
    this.claim(name);
    this.inputs.push({ name, dataType, shape });
    return name;
  }

  /** Declares `value` as a graph output named `name` (through an Identity node when the names differ). */
  output(value: string, name: string, dataType: OnnxDataType, shape: readonly (number | string)[]): void {
    if (value !== name) this.op('Identity', [value], {}, { output: name });
    this.outputs.push({ name, dataType, shape });
  }

  /** Adds an initializer (a weight) and returns its name. */
  initializer(name: string, dataType: OnnxDataType, dims: readonly number[], data: TensorData): string {
    this.claim(name);
    this.initializers.push({ name, dataType, dims, data });
    return name;
  }

  /**
   * A small constant stored in the model (raw data); identical constants are shared.
   * @param values int64/int32 values as numbers, float32 as numbers.
   */
  constant(dataType: 'int64' | 'int32' | 'float32', dims: readonly number[], values: readonly number[]): string {
    const key = `${dataType}[${dims.join(',')}]:${values.join(',')}`;
    const existing = this.constants.get(key);
    if (existing !== undefined) return existing;
    const bytes =
      dataType === 'int64'
        ? new Uint8Array(BigInt64Array.from(values, (v) => BigInt(v)).buffer)
        : dataType === 'int32'
          ? new Uint8Array(Int32Array.from(values).buffer)
          : new Uint8Array(Float32Array.from(values).buffer);
    const name = this.initializer(this.fresh('const'), dataType, dims, { kind: 'raw', bytes });
    this.constants.set(key, name);
    return name;
  }

  /** Adds a node with one output and returns the output's name. */
  op(
    opType: string,
    inputs: readonly string[],
    attributes: Readonly<Record<string, AttributeInput>> = {},
    options: NodeOptions = {},
  ): string {
    const output = options.output ?? this.fresh(opType);
    this.claim(output);
    this.addNode(opType, inputs, [output], attributes, options.domain);
    return output;
  }

  /** Adds a node with `outputCount` outputs and returns their names. */
  opMulti(
    opType: string,
    inputs: readonly string[],
    outputCount: number,
    attributes: Readonly<Record<string, AttributeInput>> = {},
    domain?: string,
  ): string[] {
    const outputs = Array.from({ length: outputCount }, () => this.fresh(opType));
    outputs.forEach((o) => this.claim(o));
    this.addNode(opType, inputs, outputs, attributes, domain);
    return outputs;
  }

  /** Encodes the graph as a `.onnx` file (opset {@link ONNX_OPSET}, plus `com.microsoft` when used). */
  toModel(metadata?: Readonly<Record<string, string>>): Uint8Array {
    const opsets: Record<string, number> = { '': ONNX_OPSET };
    if (this.nodes.some((n) => n.domain === 'com.microsoft')) opsets['com.microsoft'] = MICROSOFT_OPSET;
    return encodeOnnxModel({
      graph: {
        name: this.name,
        nodes: this.nodes,
        initializers: this.initializers,
        inputs: this.inputs,
        outputs: this.outputs,
      },
      opsets,
      metadata,
    });
  }

  /** Counts, for tests and size estimates. */
  get stats(): { nodes: number; initializers: number } {
    return { nodes: this.nodes.length, initializers: this.initializers.length };
  }

  private addNode(
    opType: string,
    inputs: readonly string[],
    outputs: string[],
    attributes: Readonly<Record<string, AttributeInput>>,
    domain?: string,
  ): void {
    const attrs: Record<string, OnnxAttribute> = {};
    for (const [k, v] of Object.entries(attributes)) attrs[k] = toAttribute(opType, k, v);
    this.nodes.push({ opType, domain, name: `${outputs[0]}_node`, inputs, outputs, attributes: attrs });
  }

  private fresh(what: string): string {
    return [...this.scopes, `${what}_${this.counter++}`].join('/');
  }

  private claim(name: string): void {
    if (this.names.has(name)) {
      throw new SdError(
        'internal',
        `The graph "${this.name}" already has a value named "${name}"; every value name must be unique.`,
      );
    }
    this.names.add(name);
  }
}

function toAttribute(opType: string, name: string, v: AttributeInput): OnnxAttribute {
  if (typeof v === 'object' && !Array.isArray(v)) return v as OnnxAttribute;
  if (typeof v === 'string') return { type: 'string', value: v };
  if (typeof v === 'bigint') return { type: 'int', value: v };
  const values = (typeof v === 'number' ? [v] : v) as readonly number[];
  if (!values.every(Number.isInteger)) {
    throw new SdError(
      'internal',
      `Attribute "${name}" of ${opType} is ${JSON.stringify(v)}: plain numbers are ints; wrap floats with float() or floats().`,
    );
  }
  return typeof v === 'number' ? { type: 'int', value: v } : { type: 'ints', value: values };
}
