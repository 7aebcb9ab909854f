/**
 * A minimal walk over an ONNX ModelProto (protobuf wire format) that answers the two questions the
 * backend choice needs before a session is created: does the graph use float16 tensors (WebGPU then
 * needs `shader-f16`), and how large is its largest weight (it must fit in one GPU buffer binding).
 * Only field numbers from onnx.proto are read; payloads are skipped, so a 2 GB file walks in
 * milliseconds and nothing is copied.
 */

/** What {@link scanOnnx} found. Sizes in bytes. */
export interface OnnxScan {
  /** A graph input/output, initializer, constant or Cast target of element type float16. */
  hasFloat16: boolean;
  /** Largest initializer or constant tensor, from its dims and element type (external data included). */
  largestTensorBytes: number;
}

const FLOAT16 = 10;
/** Bytes per element of onnx.TensorProto.DataType, by enum value (0 = unknown). */
const ELEMENT_BYTES = [0, 4, 1, 1, 2, 2, 4, 8, 0, 1, 2, 8, 4, 8, 8, 16, 2];

// onnx.proto field numbers
const MODEL_GRAPH = 7;
const GRAPH_NODE = 1;
const GRAPH_INITIALIZER = 5;
const GRAPH_INPUT = 11;
const GRAPH_OUTPUT = 12;
const NODE_OP_TYPE = 4;
const NODE_ATTRIBUTE = 5;
const ATTRIBUTE_I = 3;
const ATTRIBUTE_T = 5;
const ATTRIBUTE_G = 6;
const ATTRIBUTE_NAME = 1;
const TENSOR_DIMS = 1;
const TENSOR_DATA_TYPE = 2;
const VALUE_INFO_TYPE = 2;
const TYPE_TENSOR = 1;
const TYPE_TENSOR_ELEM_TYPE = 1;

interface Field {
  field: number;
  wire: number;
  /** Varint value (wire 0). */
  value: number;
  /** Payload bounds (wire 2). */
  start: number;
  end: number;
}

/** Reads a varint as a Number (exact up to 2^53, enough for sizes and enums). */
function readVarint(b: Uint8Array, pos: { at: number }): number {
  let result = 0;
  let scale = 1;
  for (;;) {
    if (pos.at >= b.length) throw new RangeError('ONNX file ends inside a varint');
    const byte = b[pos.at++] as number;
    result += (byte & 0x7f) * scale;
    if (byte < 0x80) return result;
    scale *= 128;
  }
}

function* fields(b: Uint8Array, start: number, end: number): Generator<Field> {
  const pos = { at: start };
  while (pos.at < end) {
    const key = readVarint(b, pos);
    const field = Math.floor(key / 8);
    const wire = key % 8;
    let value = 0;
    let payloadStart = pos.at;
    switch (wire) {
      case 0:
        value = readVarint(b, pos);
        break;
      case 1:
        pos.at += 8;
        break;
      case 2: {
        const length = readVarint(b, pos);
        payloadStart = pos.at;
        pos.at += length;
        break;
      }
      case 5:
        pos.at += 4;
        break;
      default:
        throw new RangeError(`Unsupported protobuf wire type ${wire} at byte ${pos.at}: not an ONNX file?`);
    }
    if (pos.at > end) throw new RangeError('ONNX file is truncated');
    yield { field, wire, value, start: payloadStart, end: pos.at };
  }
}

function scanTensor(b: Uint8Array, f: Field, out: OnnxScan): void {
  let type = 0;
  let elements = 1;
  for (const t of fields(b, f.start, f.end)) {
    if (t.field === TENSOR_DATA_TYPE && t.wire === 0) type = t.value;
    else if (t.field === TENSOR_DIMS && t.wire === 0) elements *= t.value;
    else if (t.field === TENSOR_DIMS && t.wire === 2) {
      const pos = { at: t.start };
      while (pos.at < t.end) elements *= readVarint(b, pos);
    }
  }
  if (type === FLOAT16) out.hasFloat16 = true;
  out.largestTensorBytes = Math.max(out.largestTensorBytes, elements * (ELEMENT_BYTES[type] ?? 0));
}

function scanValueInfo(b: Uint8Array, f: Field, out: OnnxScan): void {
  for (const v of fields(b, f.start, f.end)) {
    if (v.field !== VALUE_INFO_TYPE || v.wire !== 2) continue;
    for (const t of fields(b, v.start, v.end)) {
      if (t.field !== TYPE_TENSOR || t.wire !== 2) continue;
      for (const e of fields(b, t.start, t.end)) {
        if (e.field === TYPE_TENSOR_ELEM_TYPE && e.wire === 0 && e.value === FLOAT16) out.hasFloat16 = true;
      }
    }
  }
}

function scanNode(b: Uint8Array, f: Field, out: OnnxScan): void {
  let opType = '';
  const attributes: Field[] = [];
  for (const n of fields(b, f.start, f.end)) {
    if (n.field === NODE_OP_TYPE && n.wire === 2) opType = new TextDecoder().decode(b.subarray(n.start, n.end));
    else if (n.field === NODE_ATTRIBUTE && n.wire === 2) attributes.push(n);
  }
  for (const a of attributes) {
    let name = '';
    let intValue: number | undefined;
    for (const x of fields(b, a.start, a.end)) {
      if (x.field === ATTRIBUTE_NAME && x.wire === 2) name = new TextDecoder().decode(b.subarray(x.start, x.end));
      else if (x.field === ATTRIBUTE_I && x.wire === 0) intValue = x.value;
      else if (x.field === ATTRIBUTE_T && x.wire === 2) scanTensor(b, x, out);
      // subgraphs (If/Loop bodies) hold nodes and initializers of their own
      else if (x.field === ATTRIBUTE_G && x.wire === 2) scanGraph(b, x, out);
    }
    if (opType === 'Cast' && name === 'to' && intValue === FLOAT16) out.hasFloat16 = true;
  }
}

function scanGraph(b: Uint8Array, f: Field, out: OnnxScan): void {
  for (const g of fields(b, f.start, f.end)) {
    if (g.wire !== 2) continue;
    if (g.field === GRAPH_INITIALIZER) scanTensor(b, g, out);
    else if (g.field === GRAPH_INPUT || g.field === GRAPH_OUTPUT) scanValueInfo(b, g, out);
    else if (g.field === GRAPH_NODE) scanNode(b, g, out);
  }
}

/** Scans a serialized ONNX model (the .onnx file; external weights are described inside it). */
export function scanOnnx(model: Uint8Array): OnnxScan {
  const out: OnnxScan = { hasFloat16: false, largestTensorBytes: 0 };
  for (const f of fields(model, 0, model.length)) {
    if (f.field === MODEL_GRAPH && f.wire === 2) scanGraph(model, f, out);
  }
  return out;
}
