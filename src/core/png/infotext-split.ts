// The text layer of A1111's `parse_generation_parameters` (modules/infotext_utils.py): which lines are the
// prompt, the negative prompt and the settings line, and the settings line's `Key: value` pairs. Values are
// returned as written (JSON-quoted ones unquoted); reading them as numbers is infotext.ts's job.

/** What an infotext holds before any value is interpreted. */
export interface InfotextParts {
  prompt: string;
  negativePrompt: string;
  /** Whether the last line had at least three pairs and so was read as settings. */
  hasSettings: boolean;
  /** The settings line's pairs in order; a repeated key keeps its first place and its last value. */
  pairs: Map<string, string>;
  /** sd-dynamic-prompts' `Template:` / `Negative Template:` lines after the settings line, by key. */
  templates: Map<string, string>;
}

/**
 * A1111's `re_param_code`, `\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)`, with Python's Unicode
 * `\w` spelled out (letters, numbers, underscore); the `d` flag gives the value's position.
 */
const PARAM_SOURCE = String.raw`\s*([\p{L}\p{N}_][\p{L}\p{N}_ \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)`;
const NEGATIVE_PREFIX = 'Negative prompt:';
const TEMPLATE_PREFIXES = ['Template:', 'Negative Template:'] as const;
/** A last line with fewer pairs than this is part of the prompt, as in A1111. */
export const MIN_PARAM_PAIRS = 3;

/** How many pairs A1111's regex finds in a line (its test for a settings line). */
export function countParamPairs(line: string): number {
  return [...line.matchAll(new RegExp(PARAM_SOURCE, 'gu'))].length;
}

/** A1111's `unquote`: a value in double quotes is JSON (`json.loads`); one that does not parse stays as it is. */
export function unquote(value: string): string {
  if (value.length < 2 || !value.startsWith('"') || !value.endsWith('"')) return value;
  try {
    const parsed: unknown = JSON.parse(value);
    return typeof parsed === 'string' ? parsed : value;
  } catch {
    // A1111 keeps a value that only looks quoted as it is.
    return value;
  }
}

/**
 * End (exclusive) of a JSON array or object starting at `start`, by bracket depth outside strings;
 * -1 when the brackets do not close or the text is not JSON.
 */
function jsonEnd(line: string, start: number): number {
  let depth = 0;
  let inString = false;
  for (let i = start; i < line.length; i++) {
    const c = line[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '[' || c === '{') depth++;
    else if (c === ']' || c === '}') {
      depth--;
      if (depth === 0) {
        try {
          JSON.parse(line.slice(start, i + 1));
          return i + 1;
        } catch {
          // brackets balance but the text is not JSON: read it as A1111 does
          return -1;
        }
      }
    }
  }
  return -1;
}

/**
 * The settings line's pairs, as A1111's `re_param.findall` finds them, with one extension: an unquoted JSON
 * array or object (Civitai's `Civitai resources: [{...}, ...]`) is kept whole where A1111 would cut it at
 * its first comma. As in A1111, a pair with an empty value is dropped (its `v[0]` raises and is skipped).
 */
export function settingsPairs(line: string): Map<string, string> {
  const pairs = new Map<string, string>();
  const re = new RegExp(PARAM_SOURCE, 'dgu');
  for (let m = re.exec(line); m !== null; m = re.exec(line)) {
    const key = m[1]!;
    let value = m[2]!;
    const valueStart = m.indices![2]![0];
    if (value.startsWith('[') || value.startsWith('{')) {
      const end = jsonEnd(line, valueStart);
      const after = end < 0 ? null : /^\s*(?:,|$)/.exec(line.slice(end));
      if (after) {
        value = line.slice(valueStart, end);
        re.lastIndex = end + after[0].length;
      }
    }
    if (value === '') continue;
    pairs.set(key, unquote(value));
  }
  return pairs;
}

function templatePrefix(line: string): (typeof TEMPLATE_PREFIXES)[number] | undefined {
  return TEMPLATE_PREFIXES.find((p) => line.startsWith(p));
}

/**
 * Splits off sd-dynamic-prompts' `Template:` / `Negative Template:` lines, which that extension appends after
 * A1111's settings line (and strips again when pasting). Without this, A1111's parser would find no
 * settings on the last line and read everything as prompt text.
 */
function splitTemplates(lines: string[]): Map<string, string> {
  const templates = new Map<string, string>();
  const at = lines.findIndex(
    (line, i) =>
      i > 0 && templatePrefix(line.trim()) !== undefined && countParamPairs(lines[i - 1]!) >= MIN_PARAM_PAIRS,
  );
  if (at < 0) return templates;
  let key = '';
  for (const raw of lines.splice(at)) {
    const line = raw.trim();
    const prefix = templatePrefix(line);
    if (prefix !== undefined) {
      key = prefix.slice(0, -1);
      templates.set(key, line.slice(prefix.length).trim());
    } else {
      templates.set(key, `${templates.get(key)}\n${line}`);
    }
  }
  return templates;
}

/**
 * Splits an infotext as A1111 does: the whole text is stripped and split on "\n"; the last line is the
 * settings line if A1111's pair regex finds at least three pairs in it, else it joins the prompt lines; a
 * line starting with "Negative prompt:" begins the negative prompt, which runs to the settings line; each
 * prompt line is stripped and joined with "\n" onto text that is not empty so far. Never throws.
 */
export function splitInfotext(text: string): InfotextParts {
  const lines = text.trim().split('\n');
  const templates = splitTemplates(lines);
  // the extension's paste hook strips the text before its template lines
  if (templates.size > 0) lines.push(lines.pop()!.trimEnd());
  let lastLine = lines.pop() ?? '';
  if (countParamPairs(lastLine) < MIN_PARAM_PAIRS) {
    lines.push(lastLine);
    lastLine = '';
  }
  let prompt = '';
  let negativePrompt = '';
  let isNegative = false;
  for (const raw of lines) {
    let line = raw.trim();
    if (line.startsWith(NEGATIVE_PREFIX)) {
      isNegative = true;
      line = line.slice(NEGATIVE_PREFIX.length).trim();
    }
    if (isNegative) negativePrompt += (negativePrompt === '' ? '' : '\n') + line;
    else prompt += (prompt === '' ? '' : '\n') + line;
  }
  return { prompt, negativePrompt, hasSettings: lastLine !== '', pairs: settingsPairs(lastLine), templates };
}
