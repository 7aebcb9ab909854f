import { describe, expect, it } from 'vitest';
import { isSdError } from '../../../src/core/errors.ts';
import { parsePreprocessor } from '../../../src/core/preprocess/preprocessor.ts';
import {
  controlNetOptions,
  controlNetProblem,
  defaultControlNet,
  parsePreprocessorSpec,
  preprocessorSpec,
} from '../../../src/lib/controlnet-unit.ts';

const image = { bytes: Uint8Array.of(137, 80, 78, 71), type: 'image/png' };
const ready = { ...defaultControlNet(), isEnabled: true, model: 'tiny-controlnet' };

describe('a ControlNet unit of the page', () => {
  it("starts off with A1111's defaults", () => {
    expect(defaultControlNet()).toEqual({
      isEnabled: false,
      model: null,
      preprocessor: 'none',
      lowThreshold: 100,
      highThreshold: 200,
      weight: 1,
      start: 0,
      end: 1,
    });
    expect(defaultControlNet()).not.toBe(defaultControlNet());
  });

  it("writes the worker's preprocessor specs, which the core reads back", () => {
    const specs = [
      preprocessorSpec({ preprocessor: 'canny', lowThreshold: 50, highThreshold: 120 }),
      preprocessorSpec({ preprocessor: 'invert', lowThreshold: 50, highThreshold: 120 }),
      preprocessorSpec(defaultControlNet()),
    ];
    expect(specs).toEqual(['canny:50:120', 'invert', 'none']);
    expect(specs.map((spec) => parsePreprocessor(spec).id)).toEqual(specs);
    for (const spec of specs)
      expect(preprocessorSpec({ ...defaultControlNet(), ...parsePreprocessorSpec(spec) })).toBe(spec);
  });

  it('hands the worker the enabled units, each with its own copy of the image', () => {
    const unit = { ...ready, preprocessor: 'canny' as const, weight: 0.6, start: 0.1, end: 0.5 };
    const [options, ...rest] = controlNetOptions([unit], [image]);
    expect(rest).toEqual([]);
    expect(options).toEqual({
      model: 'tiny-controlnet',
      image,
      preprocessor: 'canny:100:200',
      weight: 0.6,
      start: 0.1,
      end: 0.5,
    });
    // the worker takes the copy's buffer; the panel keeps its own
    expect(options?.image.bytes).not.toBe(image.bytes);
    expect(controlNetOptions([defaultControlNet()], [image])).toEqual([]);
    expect(controlNetOptions([{ ...ready, isEnabled: false }], [])).toEqual([]);
  });

  it('says what an enabled unit lacks before a job starts', () => {
    expect(controlNetProblem(ready, true)).toBeUndefined();
    expect(controlNetProblem({ ...ready, model: null }, true)).toBe(
      'ControlNet Unit 0 is enabled but lacks a ControlNet model: add it in the ControlNet panel, or turn the unit off.',
    );
    expect(controlNetProblem({ ...ready, model: null }, false, 1)).toBe(
      'ControlNet Unit 1 is enabled but lacks a ControlNet model and a control image: add them in the ControlNet panel, or turn the unit off.',
    );
    expect(controlNetProblem({ ...ready, start: 0.5, end: 0.5 }, true)).toMatch(
      /Starting Control Step 0\.5 is not before its Ending Control Step 0\.5/,
    );
    let thrown: unknown;
    try {
      controlNetOptions([ready], [null]);
    } catch (e) {
      thrown = e;
    }
    expect(isSdError(thrown, 'bad-argument')).toBe(true);
    expect((thrown as Error).message).toMatch(/lacks a control image/);
  });
});
