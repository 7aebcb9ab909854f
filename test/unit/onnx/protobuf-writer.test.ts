import { describe, expect, it } from 'vitest';
import { ProtobufWriter } from '../../../src/core/onnx/protobuf-writer.ts';

describe('ProtobufWriter', () => {
  it('writes varints with tags (field 1 = 150 is 08 96 01)', () => {
    expect([...new ProtobufWriter().varint(1, 150).finish()]).toEqual([0x08, 0x96, 0x01]);
    expect([...new ProtobufWriter().varint(2, 2 ** 40).finish()]).toEqual([0x10, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20]);
  });

  it('writes negative int64 values as 10-byte two’s complement', () => {
    expect([...new ProtobufWriter().varint(3, -1).finish()]).toEqual([0x18, ...Array(9).fill(0xff), 0x01]);
    expect([...new ProtobufWriter().varint(3, -2n).finish()]).toEqual([0x18, 0xfe, ...Array(8).fill(0xff), 0x01]);
  });

  it('writes floats, strings and nested messages length-delimited', () => {
    const bytes = new ProtobufWriter()
      .float(2, 1)
      .string(4, 'hé')
      .message(5, (m) => m.varint(1, 3))
      .finish();
    expect([...bytes]).toEqual([0x15, 0x00, 0x00, 0x80, 0x3f, 0x22, 0x03, 0x68, 0xc3, 0xa9, 0x2a, 0x02, 0x08, 0x03]);
  });

  it('keeps long outputs intact across internal buffer growth', () => {
    const w = new ProtobufWriter();
    const payload = Uint8Array.from({ length: 5000 }, (_, i) => i % 251);
    for (let i = 0; i < 3; i++) w.bytes(9, payload);
    const out = w.finish();
    expect(out.byteLength).toBe(3 * (1 + 2 + 5000));
    expect([...out.subarray(3 + 5003, 3 + 5003 + 5000)]).toEqual([...payload]);
  });
});
