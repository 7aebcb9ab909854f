import * as Comlink from 'comlink';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SD_ERROR_CODES, SdError } from '../../../src/core/errors.ts';
import { installErrorTransfer } from '../../../workers/error-transfer.ts';

/** Something that throws what it is given, exposed over a real MessageChannel as the worker is. */
interface Thrower {
  fail(kind: string): Promise<void>;
}

const THROWN: Record<string, () => unknown> = {
  ...Object.fromEntries(SD_ERROR_CODES.map((code) => [code, () => new SdError(code, `failed with ${code}`)])),
  type: () => new TypeError('x is not a function'),
  foreign: () => Object.assign(new Error('ENOENT: no such file'), { code: 'ENOENT' }),
  numeric: () => Object.assign(new Error('quota exceeded'), { code: 22 }),
  text: () => 'a bare string',
};

let channel: MessageChannel | undefined;

function connect(): Comlink.Remote<Thrower> {
  channel = new MessageChannel();
  const thrower: Thrower = {
    async fail(kind) {
      throw THROWN[kind]!();
    },
  };
  Comlink.expose(thrower, channel.port1);
  return Comlink.wrap<Thrower>(channel.port2);
}

async function rejection(kind: string): Promise<unknown> {
  try {
    await connect().fail(kind);
  } catch (e) {
    return e;
  }
  throw new Error(`fail(${kind}) resolved`);
}

describe('error transfer across a Comlink MessageChannel', () => {
  beforeAll(() => installErrorTransfer());
  afterEach(() => {
    channel?.port1.close();
    channel?.port2.close();
  });

  it.each(SD_ERROR_CODES.map((code) => [code]))('keeps the SdError code %s and its message', async (code) => {
    const e = await rejection(code);
    expect(e).toBeInstanceOf(SdError);
    expect((e as SdError).code).toBe(code);
    expect((e as SdError).message).toBe(`failed with ${code}`);
  });

  it('keeps the thrower-side stack', async () => {
    const e = (await rejection('busy')) as SdError;
    expect(e.stack).toContain('failed with busy');
    expect(e.stack).toContain('error-transfer.test.ts');
  });

  it('turns an error that is not an SdError into an internal SdError with its message', async () => {
    const e = await rejection('type');
    expect(e).toBeInstanceOf(SdError);
    expect([(e as SdError).code, (e as SdError).message]).toEqual(['internal', 'x is not a function']);
  });

  it('does not pass on a code that is not one of the core codes', async () => {
    for (const kind of ['foreign', 'numeric']) {
      const e = (await rejection(kind)) as SdError;
      expect(e.code).toBe('internal');
    }
    expect(((await rejection('foreign')) as SdError).message).toBe('ENOENT: no such file');
  });

  it('passes a thrown value that is not an Error through unchanged', async () => {
    expect(await rejection('text')).toBe('a bare string');
  });
});
