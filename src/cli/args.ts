import { SdError } from '../core/errors.ts';

/** Parsed `--name value` / `--flag` options of one command. */
export type ParsedArgs = Map<string, string | true>;

/**
 * Parses `--name value` pairs and bare `--flag`s, accepting only the names given; anything else is
 * an error that lists what the command accepts.
 */
export function parseArgs(
  argv: readonly string[],
  command: string,
  valued: readonly string[],
  flags: readonly string[] = [],
): ParsedArgs {
  const out: ParsedArgs = new Map();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf('=');
    const name = arg.startsWith('--') ? arg.slice(2, eq > 0 ? eq : undefined) : undefined;
    if (name !== undefined && flags.includes(name) && eq < 0) {
      out.set(name, true);
    } else if (name !== undefined && valued.includes(name)) {
      const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
      if (value === undefined) throw new SdError('bad-argument', `--${name} needs a value.`);
      out.set(name, value);
    } else {
      const allowed = [...valued.map((v) => `--${v} VALUE`), ...flags.map((f) => `--${f}`)].join(', ');
      throw new SdError('bad-argument', `Unknown option "${arg}" for ${command}. Expected: ${allowed}.`);
    }
  }
  return out;
}

export function stringArg(args: ParsedArgs, name: string): string | undefined {
  const v = args.get(name);
  return typeof v === 'string' ? v : undefined;
}

export function requiredArg(args: ParsedArgs, name: string, what: string): string {
  const v = stringArg(args, name);
  if (v === undefined) throw new SdError('bad-argument', `Missing --${name}: ${what}.`);
  return v;
}

/** A number option; `integer` rejects fractions. */
export function numberArg(args: ParsedArgs, name: string, integer: boolean): number | undefined {
  const v = stringArg(args, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || (integer && !Number.isInteger(n))) {
    throw new SdError('bad-argument', `--${name} "${v}" is not ${integer ? 'a whole number' : 'a number'}.`);
  }
  return n;
}
