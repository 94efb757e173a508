/**
 * Names, keys and sizes: what a namespace name and a key may be, how bytes
 * are counted, and the one cap check every backend applies inside its atomic
 * write step.
 */
import { LimitExceededError } from "../errors/index.js";
import { isDisabled } from "../limits/index.js";

/** Longest namespace name, in characters (names are ASCII, so also bytes). */
export const MAX_NAMESPACE_NAME_LENGTH = 128;

/** Longest key, in UTF-8 bytes (as Deno KV). */
export const MAX_DATASTORE_KEY_BYTES = 2048;

/** Namespace names: letters, digits, `_`, `-`, `.` and `:`, starting with a letter, digit or `_`. */
export const NAMESPACE_NAME_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.:-]*$/;

const NAMESPACE_RULE = `1 to ${MAX_NAMESPACE_NAME_LENGTH} letters, digits, "_", "-", "." or ":", starting with a letter, digit or "_"`;

/** A lone surrogate: a string that is not well-formed Unicode has no UTF-8 form. */
const LONE_SURROGATE = /\p{Cs}/u;

/** UTF-8 length of a well-formed string. */
export function utf8Bytes(text: string): number {
  return Buffer.byteLength(text, "utf8");
}

/**
 * Bytes an entry counts against its namespace: the UTF-8 length of the key
 * plus the UTF-8 length of the value's JSON text. Nothing else is counted.
 */
export function datastoreEntryBytes(key: string, json: string): number {
  return utf8Bytes(key) + utf8Bytes(json);
}

function typeName(value: unknown): string {
  return value === null ? "null" : Array.isArray(value) ? "array" : typeof value;
}

/** Checks a namespace name; returns it. `TypeError` for a non-string, `RangeError` for a bad name. */
export function checkNamespaceName(name: unknown): string {
  if (typeof name !== "string") {
    throw new TypeError(`a datastore namespace name must be a string, got ${got(name)}`);
  }
  if (name.length === 0 || name.length > MAX_NAMESPACE_NAME_LENGTH || !NAMESPACE_NAME_PATTERN.test(name)) {
    throw new RangeError(`invalid datastore namespace name ${JSON.stringify(name)}: expected ${NAMESPACE_RULE}`);
  }
  return name;
}

/** Checks a well-formed string of at most {@link MAX_DATASTORE_KEY_BYTES} UTF-8 bytes; `what` names it in errors. */
function checkKeyText(value: unknown, what: string, allowEmpty: boolean): string {
  if (typeof value !== "string") {
    throw new TypeError(`a datastore ${what} must be a string, got ${got(value)}`);
  }
  if (!allowEmpty && value.length === 0) throw new RangeError(`a datastore ${what} must not be empty`);
  if (LONE_SURROGATE.test(value)) {
    throw new RangeError(
      `datastore ${what} ${JSON.stringify(value)} is not well-formed Unicode (it has a lone surrogate)`,
    );
  }
  const bytes = utf8Bytes(value);
  if (bytes > MAX_DATASTORE_KEY_BYTES) {
    throw new RangeError(
      `datastore ${what} ${JSON.stringify(value.slice(0, 32))}... is ${bytes} bytes long; the maximum is ${MAX_DATASTORE_KEY_BYTES} bytes (UTF-8)`,
    );
  }
  return value;
}

/** `number 42`, `string "1"`, `null`: a bad argument as error messages show it. */
function got(value: unknown): string {
  return value === null || value === undefined ? String(value) : `${typeName(value)} ${describeShort(value)}`;
}

function describeShort(value: unknown): string {
  if (typeof value === "symbol") return String(value);
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value === "function") return value.name || "(anonymous)";
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** Checks a key: a non-empty, well-formed string of at most {@link MAX_DATASTORE_KEY_BYTES} UTF-8 bytes. */
export function checkKey(key: unknown): string {
  return checkKeyText(key, "key", false);
}

/** Options of `keys()`. */
export interface DatastoreKeysOptions {
  /**
   * Only keys that start with this string.
   * @default "" (every key)
   */
  prefix?: string;
  /**
   * At most this many keys (a whole number, at least 1).
   * @default every matching key
   */
  limit?: number;
}

/** `keys()` options after checking. */
export interface KeysQuery {
  readonly prefix: string;
  readonly limit: number | undefined;
}

/** Checks the options of `keys()`; unknown option names are refused. */
export function checkKeysOptions(options: unknown): KeysQuery {
  if (options === undefined) return { prefix: "", limit: undefined };
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw new TypeError(`datastore keys() options must be an object, got ${got(options)}`);
  }
  const record = options as Record<string, unknown>;
  for (const name of Object.keys(record)) {
    if (name !== "prefix" && name !== "limit") {
      throw new TypeError(`unknown datastore keys() option ${JSON.stringify(name)}; the options are prefix and limit`);
    }
  }
  const prefix = record["prefix"] === undefined ? "" : checkKeyText(record["prefix"], "key prefix", true);
  const raw = record["limit"];
  if (raw === undefined) return { prefix, limit: undefined };
  if (typeof raw !== "number") {
    throw new TypeError(`datastore keys() limit must be a number, got ${got(raw)}`);
  }
  if (!Number.isSafeInteger(raw) || raw < 1) {
    throw new RangeError(`datastore keys() limit must be a whole number of at least 1, got ${raw}`);
  }
  return { prefix, limit: raw };
}

/** Checks the step of `increment()`: a finite number. */
export function checkIncrement(by: unknown): number {
  if (typeof by !== "number") {
    throw new TypeError(`datastore increment() step must be a number, got ${got(by)}`);
  }
  if (!Number.isFinite(by)) throw new RangeError(`datastore increment() step must be a finite number, got ${by}`);
  return by;
}

/**
 * The cap check, applied inside the atomic write step of every backend: a
 * write that would leave the namespace above `limit` bytes and larger than it
 * was is refused whole. Writes that do not grow the namespace always pass, so
 * a namespace above a lowered cap can still shrink. `0` or `-1`: no cap.
 */
export function checkDatastoreCap(limit: number, usedBefore: number, usedAfter: number): void {
  if (usedAfter > usedBefore && usedAfter > limit && !isDisabled(limit)) {
    throw new LimitExceededError({ kind: "datastore_size", limit, observed: usedAfter });
  }
}

/** The error for an operation that needs a value of another type under `key`. */
export function datastoreTypeError(key: string, operation: string, expected: string, found: string): TypeError {
  return new TypeError(
    `datastore ${operation}(): key ${JSON.stringify(key)} holds ${found}, not ${expected}; nothing was changed`,
  );
}

/** The error for an `increment` whose result JSON cannot hold (`Infinity`, `-Infinity`). */
export function datastoreIncrementRangeError(key: string, result: number): RangeError {
  return new RangeError(
    `datastore increment(): key ${JSON.stringify(key)} would hold ${result}, which JSON cannot hold; nothing was changed`,
  );
}
