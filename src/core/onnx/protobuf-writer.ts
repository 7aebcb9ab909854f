/**
 * A minimal protobuf encoder: the wire format's varints, fixed32 floats and length-delimited
 * fields, enough to write ONNX models (see onnx-model.ts). Nested messages are encoded into their
 * own writer first and then written as bytes, which keeps the code simple; ONNX graphs built here
 * hold weights as external data, so they stay small.
 */
export class ProtobufWriter {
  private chunks: Uint8Array[] = [];
  private current = new Uint8Array(256);
  private used = 0;
  private flushedBytes = 0;

  /** Bytes written so far. */
  get byteLength(): number {
    return this.flushedBytes + this.used;
  }

  /** A varint field (wire type 0): int32, int64, enum or bool. Negative values take 10 bytes. */
  varint(field: number, value: number | bigint | boolean): this {
    this.tag(field, 0);
    this.rawVarint(typeof value === 'boolean' ? (value ? 1 : 0) : value);
    return this;
  }

  /** A float field (wire type 5, IEEE single precision, little endian). */
  float(field: number, value: number): this {
    this.tag(field, 5);
    const bytes = new Uint8Array(4);
    new DataView(bytes.buffer).setFloat32(0, value, true);
    this.raw(bytes);
    return this;
  }

  /** A length-delimited field holding raw bytes (bytes, or an encoded sub-message). */
  bytes(field: number, value: Uint8Array): this {
    this.tag(field, 2);
    this.rawVarint(value.byteLength);
    this.raw(value);
    return this;
  }

  /** A string field, UTF-8 encoded. */
  string(field: number, value: string): this {
    return this.bytes(field, encodeUtf8(value));
  }

  /** A sub-message field, written by `write` into a fresh writer. */
  message(field: number, write: (w: ProtobufWriter) => void): this {
    const inner = new ProtobufWriter();
    write(inner);
    return this.bytes(field, inner.finish());
  }

  /** All bytes written, as one array. */
  finish(): Uint8Array {
    const out = new Uint8Array(this.byteLength);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.byteLength;
    }
    out.set(this.current.subarray(0, this.used), at);
    return out;
  }

  private tag(field: number, wireType: number): void {
    this.rawVarint(field * 8 + wireType);
  }

  private rawVarint(value: number | bigint): void {
    if (typeof value === 'number' && value >= 0 && value <= 0xffffffff && Number.isInteger(value)) {
      let v = value;
      while (v > 0x7f) {
        this.byte((v & 0x7f) | 0x80);
        v = Math.floor(v / 128);
      }
      this.byte(v);
      return;
    }
    if (typeof value === 'number' && !Number.isSafeInteger(value)) {
      throw new RangeError(`Protobuf varint ${value} is not a safe integer.`);
    }
    // negative int64 values are written as their 64-bit two's complement
    let v = BigInt.asUintN(64, BigInt(value));
    while (v > 0x7fn) {
      this.byte(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.byte(Number(v));
  }

  private byte(b: number): void {
    if (this.used === this.current.byteLength) this.flush(this.current.byteLength * 2);
    this.current[this.used++] = b;
  }

  private raw(bytes: Uint8Array): void {
    if (this.used + bytes.byteLength > this.current.byteLength) {
      this.flush(Math.max(this.current.byteLength * 2, bytes.byteLength));
    }
    this.current.set(bytes, this.used);
    this.used += bytes.byteLength;
  }

  private flush(nextSize: number): void {
    this.chunks.push(this.current.subarray(0, this.used));
    this.flushedBytes += this.used;
    this.current = new Uint8Array(Math.min(nextSize, 1 << 24));
    if (this.current.byteLength < nextSize) this.current = new Uint8Array(nextSize);
    this.used = 0;
  }
}

/** UTF-8 bytes of a string (the core is compiled without DOM types, so TextEncoder is looked up). */
export function encodeUtf8(text: string): Uint8Array {
  const Encoder = (globalThis as unknown as { TextEncoder: new () => { encode(s: string): Uint8Array } }).TextEncoder;
  return new Encoder().encode(text);
}
