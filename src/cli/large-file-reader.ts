import { open } from 'node:fs/promises';
import { SdError } from '../core/errors.ts';

/** Bytes read per `read` call by default; Node refuses single reads (and `readFile`) past 2 GiB. */
const PIECE_BYTES = 1 << 30;

/**
 * Reads a whole file into one preallocated Uint8Array, in pieces, so that files over 2 GiB (the full
 * SD 1.5 UNet's 3.4 GB `weights.pb`) load where `fs.readFile` throws ERR_FS_FILE_TOO_LARGE.
 * @param pieceBytes bytes per read call (at most 2 GiB)
 */
export async function readLargeFile(path: string, pieceBytes = PIECE_BYTES): Promise<Uint8Array> {
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    const out = new Uint8Array(size);
    let offset = 0;
    while (offset < size) {
      const { bytesRead } = await handle.read(out, offset, Math.min(pieceBytes, size - offset), offset);
      if (bytesRead === 0)
        throw new SdError(
          'missing-file',
          `${path} ended at byte ${offset} of ${size} while reading: the file changed during the read. Let whatever writes it finish, then run again.`,
        );
      offset += bytesRead;
    }
    return out;
  } finally {
    await handle.close();
  }
}
