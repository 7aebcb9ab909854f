import { existsSync, statSync } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { SdError } from '../core/errors.ts';
import { decodePng, encodePng } from '../core/png/png.ts';
import { cannyPreprocessor, parsePreprocessor, type Preprocessor } from '../core/preprocess/preprocessor.ts';
import { numberArg, parseArgs, requiredArg } from './args.ts';

/** The preprocessor a `preprocess MODULE` command names, with its options. */
function preprocessorOf(
  module: string | undefined,
  argv: readonly string[],
): { pre: Preprocessor; args: Map<string, string | true> } {
  if (module === 'canny') {
    const args = parseArgs(argv, 'preprocess canny', ['low', 'high', 'in', 'out']);
    return {
      pre: cannyPreprocessor(numberArg(args, 'low', false) ?? 100, numberArg(args, 'high', false) ?? 200),
      args,
    };
  }
  if (module === 'invert' || module === 'none') {
    return { pre: parsePreprocessor(module), args: parseArgs(argv, `preprocess ${module}`, ['in', 'out']) };
  }
  throw new SdError(
    'bad-argument',
    `Unknown preprocessor "${module ?? ''}". Expected one of: canny (--low L --high H), invert, none; e.g. preprocess canny --low 100 --high 200 --in IN.png --out OUT.png.`,
  );
}

/** Reads a PNG argument, naming the option when the file is missing. */
export async function readPngArg(path: string, option: string): Promise<ReturnType<typeof decodePng>> {
  if (!existsSync(path) || !statSync(path).isFile())
    throw new SdError('missing-file', `${option} ${path} does not exist.`);
  return decodePng(new Uint8Array(await readFile(path)));
}

/** `preprocess canny|invert|none --in IN.png --out OUT.png`: writes the control image a ControlNet preprocessor makes. */
export async function preprocessCommand(argv: readonly string[]): Promise<void> {
  const [module, ...rest] = argv;
  const { pre, args } = preprocessorOf(module, rest);
  const input = requiredArg(args, 'in', 'the PNG to preprocess');
  const out = requiredArg(args, 'out', 'the PNG file to write');
  if (!/\.png$/i.test(out)) throw new SdError('bad-argument', `--out ${out} must end in .png.`);
  const dir = dirname(resolve(out));
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new SdError('bad-argument', `--out ${out}: folder ${dir} does not exist. Create it first.`);
  const image = await readPngArg(input, '--in');
  const result = await pre.run({ rgb: image.rgb, width: image.width, height: image.height });
  // written whole, then renamed: a failure never leaves half a PNG
  const tmp = `${out}.partial`;
  await writeFile(tmp, encodePng(result.rgb, result.width, result.height, {}));
  await rename(tmp, out);
  process.stderr.write(`wrote ${out} (${pre.id})\n`);
}
