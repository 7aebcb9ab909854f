// The infotext keys of A1111's ControlNet extension (Mikubill/sd-webui-controlnet): one `ControlNet N` key per
// enabled unit, written as v1.1.45x's `ControlNetUnit.serialize` (internal_controlnet/args.py) writes them and
// read as `Infotext.on_infotext_pasted` (scripts/infotext.py) reads them, older versions' forms included:
//   v1.0 (Feb 2023)         a key per field: `ControlNet Module: canny, ControlNet Model: …, ControlNet Weight: 1,
//                           ControlNet Guidance Start: 0, ControlNet Guidance End: 1` (`ControlNet-0 …` for several;
//                           before Guidance Start/End, `ControlNet Guidance Strength`, the later Guidance End)
//   v1.1.1xx (Apr 2023)     the same as `ControlNet 0 Preprocessor`, `… Starting Step`, `… Ending Step`, …
//   v1.1.1xx–309            one key, `ControlNet` when the UI has one unit: `"preprocessor: canny, model: …,
//                           weight: 1, starting/ending: (0, 1), resize mode: …, pixel perfect: False,
//                           control mode: Balanced, preprocessor params: (512, 100, 200)"`
//   v1.1.310+ (Aug 2023)    `ControlNet 0: "Module: canny, Model: control_v11p_sd15_canny [d14c016b], Weight: 1,
//                           Resize Mode: …, Low Vram: False, Processor Res: 512, Threshold A: 100, Threshold B: 200,
//                           Guidance Start: 0, Guidance End: 1, Pixel Perfect: False, Control Mode: Balanced"`
//                           (fields that are -1 left out; later also Hr Option, Save Detected Map)
//   v1.1.45x (May 2024)     always these 11 fields, the float ones as Python floats (`Weight: 1.0`)
import { parsePreprocessor } from '../preprocess/preprocessor.ts';
import { splitInfotext } from './infotext-split.ts';

/** One ControlNet unit as A1111's infotext records it. */
export interface ControlNetInfotextUnit {
  /**
   * A1111 module (preprocessor) name as written: 'canny', 'invert', 'none', or any other. The UI's label
   * "invert (from white bg & black line)" and other spellings of these three ("Canny") are read as their names.
   */
  module: string;
  /** The ControlNet's name, without A1111's ` [hash]`. */
  model: string;
  weight: number;
  /** Guidance Start / End, fractions of the steps. */
  start: number;
  end: number;
  /** Threshold A / B (canny: low / high) when the unit has them. */
  thresholdA?: number;
  thresholdB?: number;
}

/** The UI's label of `invert`: its module dropdown lists labels, so the UI writes (and pastes) this one. */
const INVERT_LABEL = 'invert (from white bg & black line)';
/** How this project's modules may be written (lower-cased), to their A1111 names. */
const MODULE_NAMES = new Map([
  ['canny', 'canny'],
  ['invert', 'invert'],
  [INVERT_LABEL, 'invert'],
  ['none', 'none'],
]);
/** A1111's canny defaults, which it uses for a threshold the unit leaves out or has out of range. */
const CANNY_DEFAULTS = [100, 200] as const;
const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
/** A1111 splits the unit's text on "," and each item on ": ", so a value must hold neither. */
const UNSAFE = /[,:\n]/g;

/** The A1111 name of a module as written: ours by any spelling, any other as it is. */
function moduleName(written: string): string {
  const trimmed = written.trim();
  return MODULE_NAMES.get(trimmed.toLowerCase()) ?? trimmed;
}

/** The unit of a preprocessor spec (`canny:LOW:HIGH`, `canny`, `invert`, `none`) and its settings. */
export function controlNetInfotextUnit(
  model: string,
  preprocessor: string,
  weight: number,
  start: number,
  end: number,
): ControlNetInfotextUnit {
  const p = parsePreprocessor(preprocessor);
  const unit: ControlNetInfotextUnit = { module: p.module, model, weight, start, end };
  if (p.thresholds !== undefined) [unit.thresholdA, unit.thresholdB] = p.thresholds;
  return unit;
}

/** Python's `str(float)` for a unit's numbers: A1111's unit holds floats, so whole ones keep their ".0". */
function pythonFloat(n: number): string {
  return Number.isInteger(n) ? n.toFixed(1) : String(n);
}

/**
 * One unit as v1.1.45x writes it. What this project does that A1111 names differently:
 * - Resize Mode "Just Resize": the control image is stretched to the generation size, as diffusers does.
 * - Pixel Perfect True: we run the preprocessor on the image at its own size; A1111's Pixel Perfect picks the
 *   preprocessor resolution from the image and the generation size, which is the image's own size whenever the
 *   control image has the generation size (and the output scale otherwise), whereas a fixed Processor Res
 *   would match only an image whose short side is that size.
 * - Processor Res 512: the slider's default, written as A1111 writes it for a Pixel Perfect unit (it writes the
 *   infotext before it computes the resolution); every version reads it.
 * - Control Mode "Balanced": diffusers' ControlNet, residuals on both halves of the CFG batch.
 * A unit without thresholds leaves them out, as v1.1.310–44x did for unset (-1) ones; A1111 then takes the
 * module's defaults. A character A1111 cannot read back in a value (`,`, `:`) becomes `_`.
 */
function unitText(unit: ControlNetInfotextUnit): string {
  const fields: Array<[string, string | undefined]> = [
    ['Module', moduleName(unit.module) === 'invert' ? INVERT_LABEL : moduleName(unit.module)],
    ['Model', unit.model],
    ['Weight', pythonFloat(unit.weight)],
    ['Resize Mode', 'Just Resize'],
    ['Processor Res', '512'],
    ['Threshold A', unit.thresholdA === undefined ? undefined : pythonFloat(unit.thresholdA)],
    ['Threshold B', unit.thresholdB === undefined ? undefined : pythonFloat(unit.thresholdB)],
    ['Guidance Start', pythonFloat(unit.start)],
    ['Guidance End', pythonFloat(unit.end)],
    ['Pixel Perfect', 'True'],
    ['Control Mode', 'Balanced'],
  ];
  return fields
    .filter((f): f is [string, string] => f[1] !== undefined)
    .map(([key, value]) => `${key}: ${value.trim().replace(UNSAFE, '_')}`)
    .join(', ');
}

/**
 * The infotext entries of the units: `{ 'ControlNet 0': '<value>', … }`, values as A1111 writes them. They
 * hold commas and colons, so the infotext writer (`formatInfotext`'s `extra`) JSON-quotes them, as A1111 does.
 */
export function controlNetInfotextEntries(units: readonly ControlNetInfotextUnit[]): Record<string, string> {
  return Object.fromEntries(units.map((unit, i) => [`ControlNet ${i}`, unitText(unit)]));
}

/** A unit being read: its key(s) as written (for messages) and the fields found so far. */
interface Draft {
  label: string;
  unit: ControlNetInfotextUnit;
  isDisabled: boolean;
}

/** The `Key: value` items of a unit's text, split on commas outside parentheses (`starting/ending: (0, 1)`). */
function unitItems(text: string): string[] {
  const items: string[] = [];
  let depth = 0;
  let from = 0;
  for (let i = 0; i <= text.length; i++) {
    const c = text[i];
    if (c === '(') depth++;
    else if (c === ')') depth = Math.max(0, depth - 1);
    else if (i === text.length || (c === ',' && depth === 0)) {
      const item = text.slice(from, i).trim();
      if (item !== '') items.push(item);
      from = i + 1;
    }
  }
  return items;
}

/** A finite number as Python's `int`/`float` write it. */
function decimal(value: string): number | undefined {
  const n = DECIMAL.test(value) ? Number(value) : NaN;
  return Number.isFinite(n) ? n : undefined;
}

/** A Python tuple of numbers, `(512, 100, 200)`, or undefined. */
function numberTuple(value: string, length: number): number[] | undefined {
  const inner = /^\((.*)\)$/.exec(value)?.[1];
  const numbers = inner?.split(',').map((v) => decimal(v.trim()));
  return numbers?.length === length && numbers.every((n) => n !== undefined) ? (numbers as number[]) : undefined;
}

/** A threshold as A1111 stores it: -1 (or any negative) means "not set", so the module's default is used. */
function threshold(n: number): number | undefined {
  return n < 0 ? undefined : n;
}

/**
 * Reads one field into the draft; returns what the value should have been when it is not, undefined when
 * it was read or is a field this project has no setting for (Resize Mode, Control Mode, Processor Res, …).
 */
function readField(draft: Draft, key: string, value: string): string | undefined {
  const unit = draft.unit;
  const fraction = (set: (n: number) => void): string | undefined => {
    const n = decimal(value);
    if (n === undefined || n < 0 || n > 1) return 'a fraction of the steps from 0 to 1';
    set(n);
    return undefined;
  };
  switch (key) {
    case 'module':
    case 'preprocessor':
      unit.module = moduleName(value);
      return undefined;
    case 'model':
      // A1111 names a model `name [hash]` and finds it again by the name alone
      unit.model = /^(.*?)\s*\[[0-9a-f]+\]$/i.exec(value)?.[1] ?? value;
      return undefined;
    case 'weight': {
      const n = decimal(value);
      if (n === undefined || n < 0) return 'a number of 0 or more';
      unit.weight = n;
      return undefined;
    }
    case 'guidance start':
    case 'starting step':
      return fraction((n) => (unit.start = n));
    case 'guidance end':
    case 'ending step':
    case 'guidance strength':
      return fraction((n) => (unit.end = n));
    case 'starting/ending': {
      const pair = numberTuple(value, 2);
      if (pair === undefined || pair.some((n) => n < 0 || n > 1)) return 'a pair of fractions like (0, 1)';
      [unit.start, unit.end] = pair as [number, number];
      return undefined;
    }
    case 'threshold a':
    case 'threshold b': {
      const n = decimal(value);
      if (n === undefined) return 'a number';
      if (key === 'threshold a') unit.thresholdA = threshold(n);
      else unit.thresholdB = threshold(n);
      return undefined;
    }
    case 'preprocessor params':
    case 'preprocessor parameters': {
      const params = numberTuple(value, 3);
      if (params === undefined) return 'three numbers like (512, 100, 200)';
      unit.thresholdA = threshold(params[1]!);
      unit.thresholdB = threshold(params[2]!);
      return undefined;
    }
    case 'enabled':
      draft.isDisabled = value === 'False';
      return undefined;
    default:
      return undefined;
  }
}

/** The per-field keys of v1.0 and early v1.1 (`ControlNet Module`, `ControlNet-0 Starting Step`), lower-cased. */
const FIELD_KEYS = new Set([
  'enabled',
  'module',
  'preprocessor',
  'model',
  'weight',
  'guidance start',
  'guidance end',
  'guidance strength',
  'starting step',
  'ending step',
  'resize mode',
  'pixel perfect',
  'control mode',
  'preprocessor parameters',
]);
const UNIT_KEY = /^ControlNet(?:[- ](\d+))?$/;
const FIELD_KEY = /^ControlNet(?:[- ](\d+))? (.+)$/;

/** The unit without the thresholds that are not set, so that it holds only what was written. */
function withoutUnset(unit: ControlNetInfotextUnit): ControlNetInfotextUnit {
  const { thresholdA, thresholdB, ...rest } = unit;
  return {
    ...rest,
    ...(thresholdA === undefined ? {} : { thresholdA }),
    ...(thresholdB === undefined ? {} : { thresholdB }),
  };
}

/**
 * The units an infotext names (`ControlNet 0`, `ControlNet 1`, …, and the old single `ControlNet` key, read as
 * unit 0; also v1.0's per-field keys), in index order, and one sentence per unit or field that could not be
 * read. A field that is missing or unreadable takes A1111's default (module none, model None, weight 1, start
 * 0, end 1); a unit written as disabled is left out. Never throws.
 */
export function controlNetUnitsOfInfotext(text: string): {
  units: Array<ControlNetInfotextUnit & { index: number }>;
  problems: string[];
} {
  const problems: string[] = [];
  const drafts = new Map<number, Draft>();
  const draftOf = (index: number, label: string): Draft => {
    let draft = drafts.get(index);
    if (draft === undefined) {
      const unit = { module: 'none', model: 'None', weight: 1, start: 0, end: 1 };
      draft = { label, unit, isDisabled: false };
      drafts.set(index, draft);
    }
    return draft;
  };
  const read = (draft: Draft, key: string, value: string): void => {
    const expected = readField(draft, key.toLowerCase(), value);
    if (expected !== undefined)
      problems.push(`Infotext "${draft.label}": ${key} "${value}" is not ${expected}, so A1111's default is used.`);
  };

  const wholeUnits = new Set<number>();
  for (const [key, value] of splitInfotext(text).pairs) {
    const whole = UNIT_KEY.exec(key);
    const field = whole ? null : FIELD_KEY.exec(key);
    if (whole) {
      const index = Number(whole[1] ?? 0);
      if (wholeUnits.has(index)) {
        problems.push(`Infotext "${key}" names ControlNet unit ${index} again, so it was left out.`);
        continue;
      }
      wholeUnits.add(index);
      const items = unitItems(value).map((item) => ({ item, pair: /^([^:]+):(.*)$/.exec(item) }));
      if (!items.some((i) => i.pair !== null)) {
        problems.push(`Infotext "${key}: ${value}" is not a list of "Key: value" fields, so the unit was left out.`);
        continue;
      }
      const draft = draftOf(index, key);
      for (const { item, pair } of items) {
        if (pair === null)
          problems.push(`Infotext "${key}": "${item}" is not a "Key: value" field, so it was skipped.`);
        else read(draft, pair[1]!.trim(), pair[2]!.trim());
      }
    } else if (field && FIELD_KEYS.has(field[2]!.toLowerCase())) {
      read(draftOf(Number(field[1] ?? 0), key.slice(0, -field[2]!.length - 1)), field[2]!, value.trim());
    }
  }

  const units: Array<ControlNetInfotextUnit & { index: number }> = [];
  for (const [index, draft] of [...drafts].sort((a, b) => a[0] - b[0])) {
    if (draft.isDisabled) continue;
    const unit = withoutUnset(draft.unit);
    // A1111 refuses a unit whose guidance starts after it ends
    if (unit.start > unit.end) {
      problems.push(
        `Infotext "${draft.label}": Guidance Start ${unit.start} is after Guidance End ${unit.end}, so 0 and 1 are used.`,
      );
      [unit.start, unit.end] = [0, 1];
    }
    units.push({ ...unit, index });
  }
  return { units, problems };
}

/**
 * The preprocessor spec of a unit (`canny:100:200`, `invert`, `none`), or undefined for modules this project
 * has no preprocessor for (depth, openpose, …). Canny's thresholds are truncated to whole numbers, as A1111
 * hands them to `cv2.Canny` (`int(slider_1)`); a missing or out-of-range one takes A1111's default.
 */
export function preprocessorSpecOf(unit: ControlNetInfotextUnit): string | undefined {
  const module = moduleName(unit.module);
  if (module === 'invert' || module === 'none') return module;
  if (module !== 'canny') return undefined;
  const [low, high] = [unit.thresholdA, unit.thresholdB].map((t, i) =>
    t !== undefined && Number.isFinite(t) && t >= 0 && t <= 1020 ? Math.trunc(t) : CANNY_DEFAULTS[i],
  );
  return `canny:${low}:${high}`;
}
