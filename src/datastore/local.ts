/**
 * The operations of the local backends (memory and SQLite), written once over
 * a synchronous table. Every write runs inside `table.atomic`: in memory that
 * is simply a synchronous call (nothing else runs on this thread meanwhile);
 * in SQLite it is one `BEGIN IMMEDIATE` transaction, which takes the write
 * lock before reading the usage, so a writer in another process waits rather
 * than reading a usage that is about to change.
 */
import type { DatastoreBackend } from "./backend.js";
import { checkDatastoreCap, datastoreEntryBytes, datastoreIncrementRangeError, datastoreTypeError } from "./limits.js";

/** Synchronous storage primitives of a local backend. Writes are only called inside `atomic`. */
export interface EntryTable {
  /** Runs `fn` as one atomic step: all of its writes happen, or none (when it throws). */
  atomic<T>(fn: () => T): T;
  /** JSON text under `key`, or `undefined`. */
  read(namespace: string, key: string): string | undefined;
  /** Bytes `key`'s entry counts, or `undefined` when there is none; does not read the value. */
  bytesOf(namespace: string, key: string): number | undefined;
  /** Inserts or replaces an entry. */
  write(namespace: string, key: string, json: string, bytes: number): void;
  /** Removes an entry. */
  remove(namespace: string, key: string): void;
  /** The namespace's usage in bytes. */
  used(namespace: string): number;
  /** Records the namespace's usage in bytes. */
  setUsed(namespace: string, bytes: number): void;
  /** True when `key` has an entry. */
  has(namespace: string, key: string): boolean;
  /** Keys starting with `prefix` in code point order, at most `limit`. */
  keys(namespace: string, prefix: string, limit: number | undefined): string[];
  /** Releases the table's resources. */
  close(): void;
}

/** What a stored JSON text is, for error messages; stored texts are `JSON.stringify` output. */
export function jsonKind(json: string): string {
  switch (json[0]) {
    case '"':
      return "a string";
    case "[":
      return "an array";
    case "{":
      return "an object";
    case "t":
    case "f":
      return "a boolean";
    case "n":
      return "null";
    default:
      return "a number";
  }
}

/** A backend over a synchronous {@link EntryTable}: each method does its whole work before its promise settles. */
export class LocalBackend implements DatastoreBackend {
  constructor(
    readonly kind: string,
    readonly location: string,
    private readonly table: EntryTable,
  ) {}

  async get(namespace: string, key: string): Promise<string | undefined> {
    return this.table.read(namespace, key);
  }

  async has(namespace: string, key: string): Promise<boolean> {
    return this.table.has(namespace, key);
  }

  async keys(namespace: string, prefix: string, limit: number | undefined): Promise<string[]> {
    return this.table.keys(namespace, prefix, limit);
  }

  async size(namespace: string): Promise<number> {
    return this.table.used(namespace);
  }

  async set(namespace: string, key: string, json: string, limit: number): Promise<void> {
    this.table.atomic(() => this.replace(namespace, key, json, limit));
  }

  async delete(namespace: string, key: string): Promise<boolean> {
    return this.table.atomic(() => {
      const old = this.table.bytesOf(namespace, key);
      if (old === undefined) return false;
      this.table.remove(namespace, key);
      this.table.setUsed(namespace, this.table.used(namespace) - old);
      return true;
    });
  }

  async increment(namespace: string, key: string, by: number, limit: number): Promise<number> {
    return this.table.atomic(() => {
      const text = this.table.read(namespace, key);
      if (text !== undefined && jsonKind(text) !== "a number") {
        throw datastoreTypeError(key, "increment", "a number", jsonKind(text));
      }
      const result = (text === undefined ? 0 : (JSON.parse(text) as number)) + by;
      if (!Number.isFinite(result)) throw datastoreIncrementRangeError(key, result);
      this.replace(namespace, key, JSON.stringify(result), limit);
      return result;
    });
  }

  async push(namespace: string, key: string, json: string, limit: number): Promise<number> {
    return this.table.atomic(() => {
      const array = this.readArray(namespace, key, "push") ?? [];
      array.push(JSON.parse(json));
      this.replace(namespace, key, JSON.stringify(array), limit);
      return array.length;
    });
  }

  async pop(namespace: string, key: string): Promise<string | undefined> {
    return this.table.atomic(() => this.take(namespace, key, "pop"));
  }

  async shift(namespace: string, key: string): Promise<string | undefined> {
    return this.table.atomic(() => this.take(namespace, key, "shift"));
  }

  async close(): Promise<void> {
    this.table.close();
  }

  /** Inside `atomic`: writes `json` under `key` if the namespace stays within `limit`. */
  private replace(namespace: string, key: string, json: string, limit: number): void {
    const before = this.table.used(namespace);
    const bytes = datastoreEntryBytes(key, json);
    const after = before - (this.table.bytesOf(namespace, key) ?? 0) + bytes;
    checkDatastoreCap(limit, before, after);
    this.table.write(namespace, key, json, bytes);
    this.table.setUsed(namespace, after);
  }

  /** Inside `atomic`: the array under `key`, `undefined` when missing; a `TypeError` for another type. */
  private readArray(namespace: string, key: string, operation: string): unknown[] | undefined {
    const text = this.table.read(namespace, key);
    if (text === undefined) return undefined;
    if (text[0] !== "[") throw datastoreTypeError(key, operation, "an array", jsonKind(text));
    return JSON.parse(text) as unknown[];
  }

  /** Inside `atomic`: removes the last (`pop`) or first (`shift`) element; the key stays, possibly as `[]`. */
  private take(namespace: string, key: string, operation: "pop" | "shift"): string | undefined {
    const array = this.readArray(namespace, key, operation);
    if (array === undefined || array.length === 0) return undefined;
    const element = operation === "pop" ? array.pop() : array.shift();
    this.replace(namespace, key, JSON.stringify(array), -1); // shrinks: never refused
    return JSON.stringify(element);
  }
}

/**
 * Compares two well-formed strings in Unicode code point order, which is also
 * UTF-8 byte order (SQLite's and Redis's order). JavaScript's `<` compares
 * UTF-16 code units, which puts U+E000..U+FFFF after the surrogate pairs of
 * U+10000 and above; this moves them before.
 */
export function compareCodePoints(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return shiftUnit(x) - shiftUnit(y);
  }
  return a.length - b.length;
}

function shiftUnit(unit: number): number {
  if (unit >= 0xe000) return unit - 0x800; // U+E000..U+FFFF sort before the surrogates
  if (unit >= 0xd800) return unit + 0x2000; // surrogates (U+10000 and above) sort last
  return unit;
}
