import { concatBytes } from '../io/concat.ts';
import { SdError } from '../errors.ts';
import type { ByteSource } from '../safetensors/byte-source.ts';
import { SafetensorsFile } from '../safetensors/safetensors-file.ts';
import type { WeightsFile } from './weights-file.ts';

/** One piece of the joined file: bytes `[start, end)` of it come from `read` at `at`. */
interface Segment {
  start: number;
  end: number;
  at: number;
  read(offset: number, length: number): Promise<Uint8Array>;
  shard?: WeightsFile;
}

function utf8(text: string): Uint8Array {
  const Encoder = (globalThis as unknown as { TextEncoder: new () => { encode(s: string): Uint8Array } }).TextEncoder;
  return new Encoder().encode(text);
}

/**
 * The shards of a sharded safetensors checkpoint (`*.safetensors.index.json`) as one virtual
 * safetensors file: a header listing every shard's tensors, then the shards' data sections end to
 * end. Reads go to the shards; mounted ranges stay inside one shard (`segmentEnds`), so each
 * shard's bytes are still mounted in place. Each shard's header is validated as it is opened.
 */
export async function joinShards(shards: readonly WeightsFile[], name: string): Promise<WeightsFile> {
  const opened = await Promise.all(shards.map((s) => SafetensorsFile.open(s.source, s.name)));
  const header: Record<string, unknown> = {};
  const bases: number[] = [];
  let base = 0;
  opened.forEach((file, k) => {
    bases.push(base);
    for (const t of file.tensors.values()) {
      if (t.name in header) {
        throw new SdError(
          'unsupported-model',
          `Tensor "${t.name}" is in more than one shard of ${name} (again in "${file.fileName}").`,
        );
      }
      const start = base + t.offset - file.dataStart;
      header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [start, start + t.byteLength] };
    }
    base += shards[k]!.source.size - file.dataStart;
  });
  let json = JSON.stringify(header);
  while (utf8(json).byteLength % 8 !== 0) json += ' ';
  const text = utf8(json);
  const head = new Uint8Array(8 + text.byteLength);
  new DataView(head.buffer).setUint32(0, text.byteLength, true);
  head.set(text, 8);
  const segments: Segment[] = [
    { start: 0, end: head.byteLength, at: 0, read: (o, n) => Promise.resolve(head.subarray(o, o + n)) },
  ];
  opened.forEach((file, k) => {
    const shard = shards[k]!;
    const start = head.byteLength + bases[k]!;
    const end = start + shard.source.size - file.dataStart;
    segments.push({ start, end, at: file.dataStart, read: (o, n) => shard.source.read(o, n), shard });
  });
  const size = segments.at(-1)!.end;
  const source: ByteSource = {
    size,
    async read(offset, length) {
      const end = Math.min(offset + length, size);
      const pieces: Uint8Array[] = [];
      for (const s of segments) {
        const from = Math.max(offset, s.start);
        const to = Math.min(end, s.end);
        if (from < to) pieces.push(await s.read(s.at + from - s.start, to - from));
      }
      return concatBytes(pieces);
    },
  };
  return {
    name,
    source,
    segmentEnds: segments.map((s) => s.end),
    mount(start, end) {
      const s = segments.find((x) => x.shard !== undefined && x.start <= start && end <= x.end);
      if (s === undefined) throw new SdError('internal', `Bytes ${start}…${end} of ${name} span more than one shard.`);
      return s.shard!.mount(s.at + start - s.start, s.at + end - s.start);
    },
  };
}
