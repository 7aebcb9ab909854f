import { SdError } from '../errors.ts';

/**
 * Recognises files that are not safetensors from their first bytes, so the error says what the
 * file is instead of "bad header": pickled PyTorch checkpoints (`.ckpt`, `.pt`, `.bin`), web pages
 * saved under a `.safetensors` name, Git LFS pointer files and JSON error responses.
 */
export type FileKind = 'pickle-zip' | 'pickle' | 'html' | 'git-lfs-pointer' | 'json' | 'unknown';

/** Classifies the first bytes of a file (32 are enough; fewer are fine). */
export function sniffFileKind(head: Uint8Array): FileKind {
  // torch.save writes a zip archive (local file header "PK\x03\x04") since PyTorch 1.6
  if (head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04) return 'pickle-zip';
  // older torch.save and plain pickle.dump: the PROTO opcode 0x80 and protocol 2 to 5
  if (head[0] === 0x80 && head[1] !== undefined && head[1] >= 2 && head[1] <= 5) return 'pickle';
  const text = asciiPrefix(head).trimStart().toLowerCase();
  if (text.startsWith('<')) return 'html';
  if (text.startsWith('version https://git-lfs')) return 'git-lfs-pointer';
  if (text.startsWith('{') || text.startsWith('[')) return 'json';
  return 'unknown';
}

/**
 * Throws the error for a file whose first bytes show it is not safetensors; returns when the bytes
 * do not match any known other format (the header checks then decide).
 */
export function refuseForeignFile(head: Uint8Array, fileName: string): void {
  const kind = sniffFileKind(head);
  switch (kind) {
    case 'pickle-zip':
    case 'pickle':
      throw new SdError(
        'unsupported-model',
        `"${fileName}" is a pickled PyTorch checkpoint (${kind === 'pickle-zip' ? 'a torch.save zip archive' : 'a raw pickle stream'}), ` +
          'not safetensors. Pickle files can run arbitrary code when loaded, so they are never opened here. ' +
          'Use the .safetensors version of the model, or convert it (for example with the "Convert to Safetensors" ' +
          'Space on Hugging Face, or safetensors.torch.save_file in Python on a machine you trust).',
      );
    case 'html':
      throw new SdError(
        'unsupported-model',
        `"${fileName}" is not a safetensors file: it looks like an HTML page (it starts with "<"). ` +
          'The download probably returned a login, error or landing page instead of the file: ' +
          'download it again from the direct file link (on Hugging Face a "resolve" URL).',
      );
    case 'git-lfs-pointer':
      throw new SdError(
        'unsupported-model',
        `"${fileName}" is a Git LFS pointer file, not the weights it points to. ` +
          'Fetch the real file (git lfs pull, or download it from the "resolve" URL).',
      );
    case 'json':
      throw new SdError(
        'unsupported-model',
        `"${fileName}" is not a safetensors file: it starts like JSON text (perhaps an error response saved as the file). ` +
          'Download the file again.',
      );
    case 'unknown':
      return;
  }
}

function asciiPrefix(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += b < 0x80 ? String.fromCharCode(b) : '?';
  return s;
}
