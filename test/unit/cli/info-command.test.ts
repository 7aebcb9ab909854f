import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { infoCommand } from '../../../src/cli/info-command.ts';
import { encodePng } from '../../../src/core/png/png.ts';
import { SAMPLES } from '../png/infotext-samples.ts';

const dir = mkdtempSync(join(tmpdir(), 'sd-info-'));

function png(name: string, text: Record<string, string>): string {
  const path = join(dir, name);
  writeFileSync(path, encodePng(new Uint8Array(3), 1, 1, text));
  return path;
}

/** Runs `info` and returns what it printed to stdout. */
async function info(argv: string[]): Promise<string> {
  let out = '';
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => ((out += String(chunk)), true));
  try {
    await infoCommand(argv);
  } finally {
    spy.mockRestore();
  }
  return out;
}

afterEach(() => vi.restoreAllMocks());

describe('cli info', () => {
  it("prints a PNG's infotext as JSON", async () => {
    const report = JSON.parse(await info([png('a.png', { parameters: SAMPLES.a1111 })]));
    expect(report).toMatchObject({
      steps: 28,
      sampler: 'DPM++ 2M',
      scheduleType: 'Karras',
      cfgScale: 7,
      seed: 2945104519,
      width: 512,
      height: 768,
      denoisingStrength: 0.45,
      clipSkip: 2,
      rng: 'GPU',
      loras: [
        { name: 'add_detail', te: 0.6, unet: 0.6 },
        { name: 'neon_v2', te: 0.8, unet: 0.5 },
      ],
      restore: { sampler: 'DPM++ 2M Karras', problems: [] },
    });
    expect(report.other['TI hashes']).toBe('easynegative: c74b4e810b03, bad-hands-5: aa7651be154c');
  });

  it('says a ComfyUI PNG has a workflow and no A1111 parameters', async () => {
    const path = png('comfy.png', { prompt: '{"3": {"class_type": "KSampler"}}', workflow: '{"nodes": []}' });
    await expect(info([path])).rejects.toMatchObject({
      code: 'bad-infotext',
      message: expect.stringContaining(
        'carries a ComfyUI workflow ("prompt" and "workflow" JSON) and no AUTOMATIC1111 "parameters" text',
      ),
    });
  });

  it('names a missing file and a wrong argument count', async () => {
    await expect(info([join(dir, 'none.png')])).rejects.toMatchObject({ code: 'missing-file' });
    await expect(info([])).rejects.toMatchObject({
      code: 'bad-argument',
      message: expect.stringContaining('Usage: info FILE.png'),
    });
  });
});
