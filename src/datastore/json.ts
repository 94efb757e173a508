/**
 * Values are JSON data. A value is checked and turned into its JSON text in
 * one walk, which reads every property once, so a getter cannot hand the
 * check one value and the serialiser another. The text is exactly what
 * `JSON.stringify` gives for the same data, and it is what the store keeps
 * and counts.
 */

/** JSON data: what a datastore stores and hands back. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** Deepest nesting of arrays and objects in one value (the value itself is level 1). */
export const MAX_DATASTORE_VALUE_DEPTH = 1000;

const JSON_DATA = "null, booleans, finite numbers, strings, arrays and plain objects";
const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/** A short description of a value that is not JSON data, for error messages. */
function describe(value: unknown): string {
  switch (typeof value) {
    case "undefined":
      return "undefined";
    case "function":
      return value.name ? `a function (${value.name})` : "a function";
    case "symbol":
      return `a symbol (${String(value)})`;
    case "bigint":
      return `the bigint ${value}n`;
    case "number":
      return String(value);
    case "object": {
      if (value === null) return "null";
      const constructor = (Object.getPrototypeOf(value) as { constructor?: { name?: unknown } } | null)?.constructor;
      const name = typeof constructor?.name === "string" && constructor.name !== "" ? constructor.name : "object";
      return `${/^[AEIOU]/i.test(name) ? "an" : "a"} ${name}`;
    }
    default:
      return typeof value;
  }
}

function notJson(path: string, value: unknown, advice = ""): TypeError {
  return new TypeError(`${path} is ${describe(value)}, which is not JSON data (${JSON_DATA})${advice}`);
}

function write(value: unknown, path: string, depth: number, open: Set<object>): string {
  switch (typeof value) {
    case "string":
      return JSON.stringify(value);
    case "boolean":
      return value ? "true" : "false";
    case "number":
      if (!Number.isFinite(value)) throw notJson(path, value, "; JSON has no NaN or Infinity");
      return JSON.stringify(value);
    case "object":
      break;
    case "undefined":
      throw notJson(path, value, "; leave the property out or store null");
    default:
      throw notJson(path, value);
  }
  if (value === null) return "null";
  if (depth >= MAX_DATASTORE_VALUE_DEPTH) {
    throw new RangeError(`${path} nests arrays and objects deeper than ${MAX_DATASTORE_VALUE_DEPTH} levels`);
  }
  if (open.has(value)) throw new TypeError(`${path} refers back to a value that contains it (a cycle)`);
  open.add(value);
  try {
    if (Array.isArray(value)) {
      const parts: string[] = [];
      for (let i = 0; i < value.length; i++) {
        if (!Object.hasOwn(value, i)) throw new TypeError(`${path}[${i}] is a hole in a sparse array; store null`);
        parts.push(write(value[i], `${path}[${i}]`, depth + 1, open));
      }
      return `[${parts.join(",")}]`;
    }
    const prototype: unknown = Object.getPrototypeOf(value);
    if (prototype !== Object.prototype && prototype !== null) {
      const advice = value instanceof Date ? "; store date.toISOString() or date.getTime()" : "";
      throw notJson(path, value, advice);
    }
    const record = value as Record<string, unknown>;
    const parts: string[] = [];
    for (const key of Object.keys(record)) {
      const child = IDENTIFIER.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
      parts.push(`${JSON.stringify(key)}:${write(record[key], child, depth + 1, open)}`);
    }
    return `{${parts.join(",")}}`;
  } finally {
    open.delete(value);
  }
}

/**
 * Checks that `value` is JSON data and returns its JSON text (the same text
 * `JSON.stringify` gives). Throws a `TypeError` naming the bad part by its
 * path under `what` (`value.items[2].when is a Date, ...`), or a `RangeError`
 * when arrays and objects nest deeper than {@link MAX_DATASTORE_VALUE_DEPTH}.
 */
export function toJsonText(value: unknown, what = "value"): string {
  return write(value, what, 0, new Set());
}

/** Reads JSON text the store holds (always text {@link toJsonText} made). */
export function fromJsonText(text: string): JsonValue {
  return JSON.parse(text) as JsonValue;
}
