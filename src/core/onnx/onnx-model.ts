import { SdError } from '../errors.ts';
import { ProtobufWriter } from './protobuf-writer.ts';

/**
 * Plain descriptions of the parts of an ONNX model and their protobuf encoding. Field numbers are
 * those of `onnx/onnx.proto` (ModelProto, GraphProto, NodeProto, AttributeProto, TensorProto,
 * ValueInfoProto, TypeProto, TensorShapeProto, OperatorSetIdProto, StringStringEntryProto).
 */

/** Element types, named as onnxruntime's JavaScript `Tensor.type`. */
export type OnnxDataType =
  | 'float32'
  | 'uint8'
  | 'int8'
  | 'uint16'
  | 'int16'
  | 'int32'
  | 'int64'
  | 'bool'
  | 'float16'
  | 'float64'
  | 'uint32'
  | 'uint64'
  | 'bfloat16';

/** `TensorProto.DataType` codes. */
export const ONNX_DATA_TYPE: Readonly<Record<OnnxDataType, number>> = {
  float32: 1,
  uint8: 2,
  int8: 3,
  uint16: 4,
  int16: 5,
  int32: 6,
  int64: 7,
  bool: 9,
  float16: 10,
  float64: 11,
  uint32: 12,
  uint64: 13,
  bfloat16: 16,
};

/**
 * Where an initializer's bytes are: inside the model (`raw`) or in a separate file (`external`).
 * External files reach the runtime as session option `externalData: [{ path: location, data }]`:
 * onnxruntime-web takes `data` as Uint8Array, ArrayBuffer, Blob or URL; onnxruntime-node 1.30
 * takes Uint8Array objects only (a bare path string is refused), or finds the files on disk next
 * to the model when the session is created from a path. Offsets need no alignment.
 */
export type TensorData =
  | { kind: 'raw'; bytes: Uint8Array }
  /** `location` is the external file's name; onnxruntime-web's `externalData` `path` must equal it. */
  | { kind: 'external'; location: string; offset: number; length: number };

/** An initializer (`TensorProto`): row-major little-endian data of `dims`. */
export interface OnnxTensor {
  name: string;
  dataType: OnnxDataType;
  dims: readonly number[];
  data: TensorData;
}

/** A node attribute: explicitly typed, since ONNX tells ints from floats. */
export type OnnxAttribute =
  | { type: 'int'; value: number | bigint }
  | { type: 'float'; value: number }
  | { type: 'string'; value: string }
  | { type: 'ints'; value: readonly (number | bigint)[] }
  | { type: 'floats'; value: readonly number[] }
  | { type: 'tensor'; value: OnnxTensor };

/** `AttributeProto.AttributeType` codes. */
const ATTRIBUTE_TYPE = { float: 1, int: 2, string: 3, tensor: 4, floats: 6, ints: 7 } as const;

export interface OnnxNode {
  opType: string;
  /** `''` (or absent) for the default ONNX domain, `'com.microsoft'` for onnxruntime contrib ops. */
  domain?: string;
  name: string;
  /** Value names; `''` for an omitted optional input. */
  inputs: readonly string[];
  outputs: readonly string[];
  attributes?: Readonly<Record<string, OnnxAttribute>>;
}

/** A graph input or output: element type and shape, where a string is a symbolic dimension. */
export interface OnnxValueInfo {
  name: string;
  dataType: OnnxDataType;
  shape: readonly (number | string)[];
}

export interface OnnxGraph {
  name: string;
  nodes: readonly OnnxNode[];
  initializers: readonly OnnxTensor[];
  inputs: readonly OnnxValueInfo[];
  outputs: readonly OnnxValueInfo[];
}

export interface OnnxModel {
  graph: OnnxGraph;
  /** Operator set versions by domain, e.g. `{ '': 17, 'com.microsoft': 1 }`. */
  opsets: Readonly<Record<string, number>>;
  /** IR version; 8 matches opset 17 (ONNX 1.12). */
  irVersion?: number;
  producerName?: string;
  /** `metadata_props`, readable as `session.metadata` on some runtimes. */
  metadata?: Readonly<Record<string, string>>;
}

/** Encodes a model as ONNX protobuf bytes (the content of a `.onnx` file). */
export function encodeOnnxModel(model: OnnxModel): Uint8Array {
  const w = new ProtobufWriter();
  w.varint(1, model.irVersion ?? 8);
  w.string(2, model.producerName ?? 'sd-web');
  w.message(7, (g) => writeGraph(g, model.graph));
  for (const [domain, version] of Object.entries(model.opsets)) {
    w.message(8, (o) => {
      if (domain !== '') o.string(1, domain);
      o.varint(2, version);
    });
  }
  for (const [key, value] of Object.entries(model.metadata ?? {}))
    w.message(14, (e) => e.string(1, key).string(2, value));
  const bytes = w.finish();
  if (bytes.byteLength >= 2 ** 31) {
    throw new SdError(
      'internal',
      `The ONNX graph "${model.graph.name}" is ${bytes.byteLength} bytes; protobuf files must stay under 2 GiB. Move its large initializers to external data.`,
    );
  }
  return bytes;
}

function writeGraph(w: ProtobufWriter, graph: OnnxGraph): void {
  for (const node of graph.nodes) w.message(1, (n) => writeNode(n, node));
  w.string(2, graph.name);
  for (const t of graph.initializers) w.message(5, (m) => writeTensor(m, t));
  for (const v of graph.inputs) w.message(11, (m) => writeValueInfo(m, v));
  for (const v of graph.outputs) w.message(12, (m) => writeValueInfo(m, v));
}

function writeNode(w: ProtobufWriter, node: OnnxNode): void {
  for (const i of node.inputs) w.string(1, i);
  for (const o of node.outputs) w.string(2, o);
  w.string(3, node.name);
  w.string(4, node.opType);
  for (const [name, attr] of Object.entries(node.attributes ?? {})) w.message(5, (a) => writeAttribute(a, name, attr));
  if (node.domain) w.string(7, node.domain);
}

function writeAttribute(w: ProtobufWriter, name: string, attr: OnnxAttribute): void {
  w.string(1, name);
  w.varint(20, ATTRIBUTE_TYPE[attr.type]);
  switch (attr.type) {
    case 'float':
      w.float(2, attr.value);
      break;
    case 'int':
      w.varint(3, attr.value);
      break;
    case 'string':
      w.string(4, attr.value);
      break;
    case 'tensor':
      w.message(5, (t) => writeTensor(t, attr.value));
      break;
    case 'floats':
      for (const v of attr.value) w.float(7, v);
      break;
    case 'ints':
      for (const v of attr.value) w.varint(8, v);
      break;
  }
}

function writeTensor(w: ProtobufWriter, t: OnnxTensor): void {
  for (const d of t.dims) w.varint(1, d);
  w.varint(2, ONNX_DATA_TYPE[t.dataType]);
  w.string(8, t.name);
  if (t.data.kind === 'raw') {
    w.bytes(9, t.data.bytes);
    return;
  }
  const entries: [string, string][] = [
    ['location', t.data.location],
    ['offset', String(t.data.offset)],
    ['length', String(t.data.length)],
  ];
  for (const [key, value] of entries) w.message(13, (e) => e.string(1, key).string(2, value));
  w.varint(14, 1); // data_location: EXTERNAL
}

function writeValueInfo(w: ProtobufWriter, v: OnnxValueInfo): void {
  w.string(1, v.name);
  w.message(2, (type) =>
    type.message(1, (tensor) => {
      tensor.varint(1, ONNX_DATA_TYPE[v.dataType]);
      tensor.message(2, (shape) => {
        for (const d of v.shape)
          shape.message(1, (dim) => (typeof d === 'number' ? dim.varint(1, d) : dim.string(2, d)));
      });
    }),
  );
}
