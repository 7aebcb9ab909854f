import { createSHA256 } from 'hash-wasm';
import type { SafetensorsFile } from '../safetensors/safetensors-file.ts';

/** Bytes hashed per read. */
const READ_BYTES = 16 << 20;

/**
 * AUTOMATIC1111's short hash of a LoRA file, as its infotext writes it in `Lora hashes`
 * (extensions-builtin/Lora/network.py `NetworkOnDisk`): the file's `sshs_model_hash` metadata when
 * kohya's trainer wrote one, else `addnet_hash_safetensors` (modules/hashes.py), the SHA-256 of
 * everything after the header (so editing the metadata keeps the hash); the first 12 hex digits.
 */
export async function loraShortHash(file: SafetensorsFile): Promise<string> {
  const kept = file.metadata['sshs_model_hash'];
  if (kept !== undefined && kept !== '') return kept.slice(0, 12);
  const sha = (await createSHA256()).init();
  for (let at = file.dataStart; at < file.source.size; at += READ_BYTES)
    sha.update(await file.source.read(at, Math.min(READ_BYTES, file.source.size - at)));
  return sha.digest('hex').slice(0, 12);
}

/**
 * The `Lora hashes` infotext value: `NAME: hash` per LoRA named in the prompt, joined by `, `, the
 * name as the prompt mentions it without `:` and `,` (A1111's `extra_networks_lora.py`).
 */
export function loraHashesText(entries: readonly { name: string; hash: string }[]): string {
  return entries.map((e) => `${e.name.replace(/[:,]/g, '')}: ${e.hash}`).join(', ');
}
