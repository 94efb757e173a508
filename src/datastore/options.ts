/**
 * Options of `createDatastore`, with `@default` on every field, and their
 * validation: numbers and sizes are checked and bad values raise
 * `ConfigError` naming the option, the value and the expected form.
 */
import { ConfigError } from "../errors/index.js";
import { definitionOf, parseLimitValue } from "../limits/index.js";
import type { SqliteSynchronous } from "./sqlite.js";

/** Options of `createDatastore`. */
export interface DatastoreOptions {
  /**
   * Cap on the bytes of each namespace (key + JSON text of each entry): a
   * number of bytes or a size (`"10MB"`, `"1GiB"`); `0` or `-1`: no cap. The
   * limit `maxDatastoreBytes` of the limits table; pass the resolved value of
   * a runtime's limits here.
   * @default 1GB (the `normal` profile)
   */
  maxDatastoreBytes?: number | string;
  /**
   * Directory that relative `sqlite:` paths resolve against.
   * @default process.cwd()
   */
  cwd?: string;
  /**
   * SQLite: longest wait for the write lock another process holds, in
   * milliseconds, before a write fails with `SQLITE_BUSY`.
   * @default 5000
   */
  busyTimeoutMs?: number;
  /**
   * SQLite: how commits reach the disk. `"full"`: each commit is fsynced
   * before its promise resolves (survives power loss). `"normal"`: not
   * fsynced per commit; a resolved write survives the process being killed
   * but not a power loss or OS crash, and writes are much faster.
   * @default "full"
   */
  synchronous?: SqliteSynchronous;
}

/** Options after validation. */
export interface DatastoreSettings {
  readonly maxDatastoreBytes: number;
  readonly cwd: string;
  readonly busyTimeoutMs: number;
  readonly synchronous: SqliteSynchronous;
}

const LIMIT = definitionOf("maxDatastoreBytes");

/** The default cap: the `normal` profile's `maxDatastoreBytes`. */
export const DEFAULT_MAX_DATASTORE_BYTES = LIMIT.defaults.normal;

/** Reads a cap given as a number of bytes or a size string; `0` or `-1`: no cap. */
export function parseDatastoreCap(raw: unknown, source: string): number {
  return parseLimitValue(LIMIT, raw, source);
}

/** Validates options and fills in defaults. */
export function resolveDatastoreOptions(options: DatastoreOptions = {}): DatastoreSettings {
  const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
  if (typeof busyTimeoutMs !== "number" || !Number.isSafeInteger(busyTimeoutMs) || busyTimeoutMs < 0) {
    throw new ConfigError({
      source: "the option busyTimeoutMs",
      value: busyTimeoutMs,
      expected: "a whole number of milliseconds, 0 or more",
    });
  }
  const synchronous = options.synchronous ?? "full";
  if (synchronous !== "full" && synchronous !== "normal") {
    throw new ConfigError({ source: "the option synchronous", value: synchronous, expected: `"full" or "normal"` });
  }
  const cwd = options.cwd ?? process.cwd();
  if (typeof cwd !== "string" || cwd === "") {
    throw new ConfigError({ source: "the option cwd", value: cwd, expected: "a directory path" });
  }
  return {
    maxDatastoreBytes:
      options.maxDatastoreBytes === undefined
        ? DEFAULT_MAX_DATASTORE_BYTES
        : parseDatastoreCap(options.maxDatastoreBytes, "the option maxDatastoreBytes"),
    cwd,
    busyTimeoutMs,
    synchronous,
  };
}
