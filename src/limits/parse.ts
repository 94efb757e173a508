import { ConfigError } from "../errors/index.js";
import { EXPECTED_DURATION, EXPECTED_SIZE, parseDuration, parseSize, UnitParseError } from "../units/index.js";
import type { BooleanLimitDefinition, LimitDefinition, NumericLimitDefinition } from "./definitions.js";

const DISABLE_NOTE = "; 0 or -1 disables the limit";

/** What a valid value of this limit looks like, for error messages and help. */
export function expectedForm(def: LimitDefinition): string {
  switch (def.type) {
    case "duration":
      return `${EXPECTED_DURATION}, a whole number of milliseconds${DISABLE_NOTE}`;
    case "size":
      return `${EXPECTED_SIZE}, a whole number of bytes${DISABLE_NOTE}`;
    case "count":
      return `a whole number of ${def.unit} such as ${def.defaults.normal}${DISABLE_NOTE}`;
    case "fraction":
      return "a fraction above 0 and at most 1 such as 0.9, or a percentage such as 90%; 0 or -1 disables warnings";
    case "boolean":
      return "true or false (or 1 or 0)";
  }
}

const INTEGER = /^[+-]?\d[\d_]*$/;

function readNumber(def: NumericLimitDefinition, raw: string | number): number {
  switch (def.type) {
    case "duration":
      return parseDuration(raw);
    case "size":
      return parseSize(raw);
    case "count": {
      if (typeof raw === "number") return raw;
      const text = raw.trim();
      if (!INTEGER.test(text)) throw new UnitParseError(`not a whole number`, "");
      return Number(text.replaceAll("_", ""));
    }
    case "fraction": {
      if (typeof raw === "number") return raw;
      const text = raw.trim();
      const percent = text.endsWith("%");
      const body = percent ? text.slice(0, -1).trim() : text;
      if (!/^[+-]?(\d+(\.\d*)?|\.\d+)$/.test(body)) throw new UnitParseError("not a number", "");
      return percent ? Number(body) / 100 : Number(body);
    }
  }
}

const TRUE_WORDS = new Set(["true", "1"]);
const FALSE_WORDS = new Set(["false", "0"]);

/**
 * Reads an on/off setting: the booleans `true`/`false`, the numbers `1`/`0`,
 * or the text `true`, `false`, `1`, `0` (any case, surrounding spaces ignored).
 */
function parseBoolean(def: BooleanLimitDefinition, raw: unknown, source: string): boolean {
  if (typeof raw === "boolean") return raw;
  let reason: string;
  if (typeof raw === "string" || typeof raw === "number") {
    const word = String(raw).trim().toLowerCase();
    if (TRUE_WORDS.has(word)) return true;
    if (FALSE_WORDS.has(word)) return false;
    reason = typeof raw === "number" ? "only the numbers 1 and 0 mean true and false" : "not true or false";
  } else {
    const what = raw === null ? "null" : Array.isArray(raw) ? "array" : typeof raw;
    reason = `${/^[aeiou]/.test(what) ? "an" : "a"} ${what} is not a boolean`;
  }
  throw new ConfigError({ source, value: raw, expected: expectedForm(def), reason });
}

/**
 * Reads and validates one raw value of a limit or setting. `source` says where
 * it came from (`the variable WARDEN_TIMEOUT`, `the flag --timeout`, ...) and
 * is named in the {@link ConfigError} thrown for a bad value. Numeric limits
 * give a number in their unit; on/off settings (`type: "boolean"`) a boolean.
 */
export function parseLimitValue(def: NumericLimitDefinition, raw: unknown, source: string): number;
export function parseLimitValue(def: BooleanLimitDefinition, raw: unknown, source: string): boolean;
export function parseLimitValue(def: LimitDefinition, raw: unknown, source: string): number | boolean;
export function parseLimitValue(def: LimitDefinition, raw: unknown, source: string): number | boolean {
  if (def.type === "boolean") return parseBoolean(def, raw, source);
  const fail = (reason?: string): never => {
    throw new ConfigError({ source, value: raw, expected: expectedForm(def), ...(reason ? { reason } : {}) });
  };
  if (typeof raw !== "string" && typeof raw !== "number") {
    return fail(`a ${raw === null ? "null" : typeof raw} is not a ${def.type}`);
  }
  let value: number;
  try {
    value = readNumber(def, raw);
  } catch (error) {
    if (error instanceof UnitParseError) return fail(error.message);
    throw error;
  }
  if (!Number.isFinite(value)) return fail("not a finite number");
  if (value === -1 || value === 0) return value;
  if (value < 0) return fail("negative values are not allowed other than -1");
  if (def.type === "fraction") {
    if (value > 1) return fail("a fraction of a budget cannot exceed 1");
    return value;
  }
  if (!Number.isInteger(value)) {
    const what = def.type === "duration" ? "milliseconds" : def.type === "size" ? "bytes" : def.unit;
    return fail(`${value} is not a whole number of ${what}`);
  }
  if (!Number.isSafeInteger(value)) return fail("the value is too large");
  return value;
}
