import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The bundled CLIP merges list (public/clip/), used when a model ships no tokenizer files. */
export const BUNDLED_MERGES = resolve(dirname(fileURLToPath(import.meta.url)), '../../public/clip/merges.txt');
