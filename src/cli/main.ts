import { exitStatusOf } from './exit-status.ts';

type Command = (argv: readonly string[]) => Promise<void>;

// loaded on demand so that prompt commands start without loading onnxruntime
const COMMANDS: Record<string, () => Promise<Command>> = {
  generate: async () => (await import('./generate-command.ts')).generateCommand,
  'parse-prompt': async () => (await import('./prompt-commands.ts')).parsePromptCommand,
  tokens: async () => (await import('./prompt-commands.ts')).tokensCommand,
  info: async () => (await import('./info-command.ts')).infoCommand,
  preprocess: async () => (await import('./preprocess-command.ts')).preprocessCommand,
};

const USAGE = `Usage: npm run --silent cli -- <command> [options]
Commands:
  generate --model DIR|FILE.safetensors --prompt TEXT --out FILE.png [--negative-prompt TEXT] [--sampler NAME]
           [--steps N] [--cfg X] [--seed N] [--width W] [--height H] [--batch-size N]
           [--init-image PNG --strength S] [--rng cpu|gpu] [--from-png FILE]
           [--prompt-syntax a1111|diffusers] [--backend cpu|wasm] [--bench]
           [--sampling diffusers|a1111 [--ensd N]]   (a1111: AUTOMATIC1111's k-diffusion sampling;
           an A1111 PNG given to --from-png selects it)
           [--config DIR] [--prediction-type epsilon|v_prediction]   (safetensors models)
           --model: a diffusers folder (ONNX export or safetensors weights) or a single-file
           .safetensors checkpoint; --config: the diffusers folder of its model (diffusers' config=)
           [--controlnet FILE|DIR [--controlnet-config DIR] --control-image PNG [--control-weight W]
            [--control-start S] [--control-end E] [--control-preprocess canny:LOW:HIGH|invert|none]]
           (repeat --controlnet and its options for several ControlNets at once)
  parse-prompt --prompt TEXT            A1111 emphasis parse as JSON [[text, weight], ...]
  tokens --model DIR --prompt TEXT [--raw]   A1111 chunks [{ids, multipliers}] (--raw: diffusers' 77 ids)
  preprocess canny|invert|none --in IN.png --out OUT.png [--low L --high H]   a ControlNet control image
  info FILE.png|.jpg|.webp              the image's A1111 infotext as JSON (prompt, sampler, seed, LoRAs, other keys)`;

async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  const command = name === undefined ? undefined : COMMANDS[name];
  if (!command) {
    process.stderr.write(`${name === undefined ? '' : `Unknown command "${name}". `}${USAGE}\n`);
    return 2;
  }
  return exitStatusOf(async () => (await command())(rest));
}

process.exitCode = await main(process.argv.slice(2));
