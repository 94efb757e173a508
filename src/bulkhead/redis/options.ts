/**
 * Options of the Redis store, and their checks: those that are also bulkhead
 * settings are read by the settings table, so they are read one way only.
 */
import type { RedisOptions } from "ioredis";
import { bulkheadSetting, parseBulkheadValue, type BulkheadConfigKey, type StoreFailureMode } from "../options.js";

/** Options of {@link redisBulkheadStore}; each defaults to the bulkhead's `redis*` setting. */
export interface RedisBulkheadStoreOptions {
  /**
   * Redis to connect to.
   * @default the `redisUrl` setting (`redis://127.0.0.1:6379`)
   */
  url?: string;
  /**
   * Prefix of every key; bulkheads with the same Redis and prefix share slots and queues.
   * @default the `redisKeyPrefix` setting (`warden:bulkhead`)
   */
  keyPrefix?: string;
  /**
   * Lease of this instance's slots in milliseconds of Redis's clock: a dead
   * instance's slots and queue places come back within it. Renewed every
   * quarter of it (or every `statsIntervalMs`, if shorter).
   * @default the `redisLeaseTtlMs` setting (10 s)
   */
  leaseTtlMs?: number;
  /**
   * While Redis cannot be reached: `closed` rejects with `StoreUnavailableError`
   * (503), `open` admits by this instance's own caps.
   * @default the `redisOnFailure` setting (`closed`)
   */
  onFailure?: StoreFailureMode;
  /**
   * How often the cluster's counters (stats, drain rate) are read, in milliseconds.
   * @default 1000
   */
  statsIntervalMs?: number;
  /**
   * A command without an answer for this long counts as a lost connection.
   * @default 5000
   */
  commandTimeoutMs?: number;
  /**
   * Where connection losses, re-joins and lost leases are reported; `false` for nowhere.
   * @default the bulkhead's `storeLog`, else console.warn
   */
  log?: ((message: string) => void) | false;
  /**
   * This instance's id in Redis (letters, digits, `-` and `_`).
   * @default random
   */
  instanceId?: string;
  /**
   * Extra ioredis options (TLS, password, Sentinel...); the store sets its own
   * retry and queueing options. Not `keyPrefix`: the scripts build key names
   * themselves, so use this store's `keyPrefix`.
   */
  redisOptions?: RedisOptions;
}

/** Checks the options (a bad one throws `ConfigError`, `RangeError` or `TypeError`); returns them normalized. */
export function checkOptions(options: RedisBulkheadStoreOptions): RedisBulkheadStoreOptions {
  const checked: RedisBulkheadStoreOptions = { ...options };
  const check = (key: BulkheadConfigKey, option: keyof RedisBulkheadStoreOptions): unknown => {
    const raw = options[option];
    return raw === undefined
      ? undefined
      : parseBulkheadValue(bulkheadSetting(key), raw, `the option ${option} of redisBulkheadStore`);
  };
  if (options.url !== undefined) checked.url = check("redisUrl", "url") as string;
  if (options.keyPrefix !== undefined) checked.keyPrefix = check("redisKeyPrefix", "keyPrefix") as string;
  if (options.leaseTtlMs !== undefined) checked.leaseTtlMs = check("redisLeaseTtlMs", "leaseTtlMs") as number;
  if (options.onFailure !== undefined) checked.onFailure = check("redisOnFailure", "onFailure") as StoreFailureMode;
  for (const key of ["statsIntervalMs", "commandTimeoutMs"] as const) {
    const value = options[key];
    if (value !== undefined && !(Number.isFinite(value) && value > 0)) {
      throw new RangeError(`${key} must be a number of milliseconds above 0, got ${typeof value} ${String(value)}`);
    }
  }
  if (options.instanceId !== undefined && !/^[\w-]+$/.test(options.instanceId)) {
    throw new TypeError(`instanceId must be letters, digits, - or _, got ${JSON.stringify(options.instanceId)}`);
  }
  if (options.redisOptions?.keyPrefix !== undefined) {
    throw new TypeError("redisOptions.keyPrefix is not supported; use the keyPrefix option of redisBulkheadStore");
  }
  return checked;
}
