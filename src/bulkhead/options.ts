/**
 * The bulkhead's settings: one table (key, variable, default, how a value is
 * read), the options type with `@default` on every field, and the validation
 * of one raw value. Resolution across defaults, file, environment and options
 * lives in `config.ts`.
 */
import { ConfigError } from "../errors/index.js";
import { EXPECTED_DURATION, parseDuration, UnitParseError } from "../units/index.js";

/** What happens to a request that finds its queue full. */
export type OverloadPolicy = "drop_newest" | "drop_oldest" | "block";

/** Every overload policy; `drop_newest` is the default. */
export const OVERLOAD_POLICIES: readonly OverloadPolicy[] = ["drop_newest", "drop_oldest", "block"];

/** Where slots and queues are accounted: this process, or Redis shared by many instances. */
export type BulkheadStoreKind = "memory" | "redis";

/** Every store kind; `memory` is the default. */
export const BULKHEAD_STORE_KINDS: readonly BulkheadStoreKind[] = ["memory", "redis"];

/** What a shared store does while it cannot reach Redis: reject (`closed`) or use this instance's own caps (`open`). */
export type StoreFailureMode = "closed" | "open";

/** Every failure mode; `closed` is the default. */
export const STORE_FAILURE_MODES: readonly StoreFailureMode[] = ["closed", "open"];

/**
 * Bulkhead settings as a user writes them. Counts are numbers; durations are
 * numbers of milliseconds or strings with units (`"30s"`); Retry-After values
 * are whole seconds (a bare number) or a duration (`"5s"`).
 */
export interface BulkheadConfigOptions {
  /**
   * Requests of one user running at once. `0` or `-1`: no per-user cap.
   * @default 3
   */
  maxConcurrentPerUser?: number | string;
  /**
   * Requests of one user waiting for a slot. `0`: no waiting room (reject as
   * soon as the user's slots are busy); `-1`: unbounded.
   * @default 10
   */
  maxQueuePerUser?: number | string;
  /**
   * Requests of all users running at once. `0` or `-1`: no global cap.
   * @default 100
   */
  maxConcurrentGlobal?: number | string;
  /**
   * Requests of all users waiting for a slot. `0`: no waiting room; `-1`: unbounded.
   * @default 500
   */
  maxQueueGlobal?: number | string;
  /**
   * Longest wait for a slot, in milliseconds or with units (`"30s"`); then the
   * request fails with `QueueTimeoutError` (408). `0` or `-1`: wait without limit.
   * @default 30_000
   */
  queueTimeoutMs?: number | string;
  /**
   * Retry-After, in whole seconds, advised before any drain rate has been
   * measured. At least 1.
   * @default 5
   */
  retryAfterSeconds?: number | string;
  /**
   * Upper bound of any advised Retry-After, in whole seconds. At least
   * `retryAfterSeconds`.
   * @default 60
   */
  maxRetryAfterSeconds?: number | string;
  /**
   * What a request that finds its queue full gets: `drop_newest` rejects it
   * (429); `drop_oldest` rejects the oldest waiter instead and queues it;
   * `block` lets it wait anyway, within `queueTimeoutMs`.
   * @default "drop_newest"
   */
  overloadPolicy?: OverloadPolicy | string;
  /**
   * State of a user with nothing running or waiting is dropped after this
   * long without activity; the sweep runs at this interval. Above 0.
   * @default 60_000
   */
  idleUserTtlMs?: number | string;
  /**
   * Where slots and queues are accounted: `memory` (this process) or `redis`
   * (shared by every instance using the same Redis and key prefix; loads the
   * `warden/redis` module on first use). A `redis://` or `rediss://` URL means
   * `redis` at that URL (it sets `redisUrl` too). In code, `store` may also be a
   * store factory such as `redisBulkheadStore({ url })`.
   * @default "memory"
   */
  store?: BulkheadStoreKind | string;
  /**
   * Redis to use with `store: "redis"`.
   * @default "redis://127.0.0.1:6379"
   */
  redisUrl?: string;
  /**
   * Prefix of every Redis key; bulkheads with the same Redis and prefix share
   * their slots and queues.
   * @default "warden:bulkhead"
   */
  redisKeyPrefix?: string;
  /**
   * Lease of an instance's slots and queue places on Redis's clock, renewed a
   * few times per lease while the instance lives; a dead instance's slots come
   * back within it. Above 0.
   * @default 10_000
   */
  redisLeaseTtlMs?: number | string;
  /**
   * While Redis cannot be reached: `closed` rejects requests with
   * `StoreUnavailableError` (503 with Retry-After); `open` admits them by this
   * instance's own caps.
   * @default "closed"
   */
  redisOnFailure?: StoreFailureMode | string;
}

/** A setting's key. */
export type BulkheadConfigKey = keyof BulkheadConfigOptions;

/** The effective settings, validated and frozen. Numbers are in the units of the key names. */
export interface BulkheadConfig {
  /** Requests of one user running at once; `0` or `-1`: no cap. */
  readonly maxConcurrentPerUser: number;
  /** Requests of one user waiting; `0`: no queue, `-1`: unbounded. */
  readonly maxQueuePerUser: number;
  /** Requests of all users running at once; `0` or `-1`: no cap. */
  readonly maxConcurrentGlobal: number;
  /** Requests of all users waiting; `0`: no queue, `-1`: unbounded. */
  readonly maxQueueGlobal: number;
  /** Longest wait for a slot in milliseconds; `0` or `-1`: none. */
  readonly queueTimeoutMs: number;
  /** Retry-After in seconds before a drain rate is measured. */
  readonly retryAfterSeconds: number;
  /** Upper bound of any Retry-After, in seconds. */
  readonly maxRetryAfterSeconds: number;
  /** What a request that finds its queue full gets. */
  readonly overloadPolicy: OverloadPolicy;
  /** Idle users' state is dropped after this many milliseconds. */
  readonly idleUserTtlMs: number;
  /** Where slots and queues are accounted. */
  readonly store: BulkheadStoreKind;
  /** Redis to use with `store: "redis"`. */
  readonly redisUrl: string;
  /** Prefix of every Redis key. */
  readonly redisKeyPrefix: string;
  /** Lease of an instance's slots, in milliseconds of Redis's clock. */
  readonly redisLeaseTtlMs: number;
  /** What happens while Redis cannot be reached. */
  readonly redisOnFailure: StoreFailureMode;
}

/** How a raw value of a setting is read and what it may be. */
export type BulkheadValueType =
  "slots" | "queue" | "timeout" | "ttl" | "seconds" | "policy" | "store" | "failure" | "url" | "text";

/** One row of the settings table. */
export interface BulkheadSetting {
  /** Option and config-file key. */
  readonly key: BulkheadConfigKey;
  /** Environment variable. */
  readonly env: string;
  /** How values are read and checked. */
  readonly type: BulkheadValueType;
  /** Built-in default, in the key's unit. */
  readonly default: number | string;
  /** One line for docs and help. */
  readonly description: string;
}

/** The settings table: one source of truth for keys, variables and defaults (DESIGN.md's bulkhead defaults). */
export const BULKHEAD_SETTINGS: readonly BulkheadSetting[] = [
  {
    key: "maxConcurrentPerUser",
    env: "WARDEN_BULKHEAD_MAX_CONCURRENT_PER_USER",
    type: "slots",
    default: 3,
    description: "requests of one user running at once",
  },
  {
    key: "maxQueuePerUser",
    env: "WARDEN_BULKHEAD_MAX_QUEUE_PER_USER",
    type: "queue",
    default: 10,
    description: "requests of one user waiting for a slot",
  },
  {
    key: "maxConcurrentGlobal",
    env: "WARDEN_BULKHEAD_MAX_CONCURRENT_GLOBAL",
    type: "slots",
    default: 100,
    description: "requests of all users running at once",
  },
  {
    key: "maxQueueGlobal",
    env: "WARDEN_BULKHEAD_MAX_QUEUE_GLOBAL",
    type: "queue",
    default: 500,
    description: "requests of all users waiting for a slot",
  },
  {
    key: "queueTimeoutMs",
    env: "WARDEN_BULKHEAD_QUEUE_TIMEOUT",
    type: "timeout",
    default: 30_000,
    description: "longest wait for a slot before 408",
  },
  {
    key: "retryAfterSeconds",
    env: "WARDEN_BULKHEAD_RETRY_AFTER",
    type: "seconds",
    default: 5,
    description: "Retry-After advised before a drain rate is measured",
  },
  {
    key: "maxRetryAfterSeconds",
    env: "WARDEN_BULKHEAD_MAX_RETRY_AFTER",
    type: "seconds",
    default: 60,
    description: "upper bound of any advised Retry-After",
  },
  {
    key: "overloadPolicy",
    env: "WARDEN_BULKHEAD_POLICY",
    type: "policy",
    default: "drop_newest",
    description: "what a request that finds its queue full gets",
  },
  {
    key: "idleUserTtlMs",
    env: "WARDEN_BULKHEAD_IDLE_USER_TTL",
    type: "ttl",
    default: 60_000,
    description: "idle users' state is dropped after this long",
  },
  {
    key: "store",
    env: "WARDEN_BULKHEAD_STORE",
    type: "store",
    default: "memory",
    description: "where slots and queues are accounted: memory, redis, or a redis:// URL",
  },
  {
    key: "redisUrl",
    env: "WARDEN_BULKHEAD_REDIS_URL",
    type: "url",
    default: "redis://127.0.0.1:6379",
    description: "Redis shared by the instances (store redis)",
  },
  {
    key: "redisKeyPrefix",
    env: "WARDEN_BULKHEAD_REDIS_PREFIX",
    type: "text",
    default: "warden:bulkhead",
    description: "prefix of the Redis keys; one bulkhead per prefix",
  },
  {
    key: "redisLeaseTtlMs",
    env: "WARDEN_BULKHEAD_REDIS_LEASE_TTL",
    type: "ttl",
    default: 10_000,
    description: "a dead instance's slots come back within this long",
  },
  {
    key: "redisOnFailure",
    env: "WARDEN_BULKHEAD_REDIS_ON_FAILURE",
    type: "failure",
    default: "closed",
    description: "while Redis is unreachable: closed (503) or open (own caps)",
  },
];

/** The built-in defaults, frozen. */
export const BULKHEAD_DEFAULTS: BulkheadConfig = Object.freeze(
  Object.fromEntries(BULKHEAD_SETTINGS.map((s) => [s.key, s.default])) as unknown as BulkheadConfig,
);

/** True for a known setting key. */
export function isBulkheadConfigKey(key: string): key is BulkheadConfigKey {
  return BULKHEAD_SETTINGS.some((s) => s.key === key);
}

/** The table row of a key. */
export function bulkheadSetting(key: BulkheadConfigKey): BulkheadSetting {
  return BULKHEAD_SETTINGS.find((s) => s.key === key)!;
}

/** What a valid value of a setting looks like, quoted in error messages. */
export function expectedBulkheadForm(setting: BulkheadSetting): string {
  switch (setting.type) {
    case "slots":
      return `a whole number of requests such as ${String(setting.default)}; 0 or -1 means no cap`;
    case "queue":
      return `a whole number of requests such as ${String(setting.default)}; 0 means no queue, -1 an unbounded queue`;
    case "timeout":
      return `${EXPECTED_DURATION}, a whole number of milliseconds; 0 or -1 means no queue timeout`;
    case "ttl":
      return `${EXPECTED_DURATION}, a whole number of milliseconds above 0`;
    case "seconds":
      return `a whole number of seconds, at least 1, such as ${String(setting.default)}, or a duration such as 5s or 2min`;
    case "policy":
      return `one of ${OVERLOAD_POLICIES.join(", ")}`;
    case "store":
      return `one of ${BULKHEAD_STORE_KINDS.join(", ")}, or a redis:// or rediss:// URL (redis at that URL)`;
    case "failure":
      return `one of ${STORE_FAILURE_MODES.join(", ")}`;
    case "url":
      return "a redis:// or rediss:// URL such as redis://127.0.0.1:6379";
    case "text":
      return "a non-empty string without spaces or braces, such as warden:bulkhead";
  }
}

/** Reads a setting whose value is a word or a string. */
function parseText(setting: BulkheadSetting, raw: unknown, fail: (reason: string) => never): string {
  if (typeof raw !== "string") return fail(`${describeType(raw)} is not a string`);
  const text = raw.trim();
  switch (setting.type) {
    case "policy": {
      const name = text.toLowerCase();
      if (!(OVERLOAD_POLICIES as readonly string[]).includes(name)) return fail("unknown overload policy");
      return name;
    }
    case "store": {
      // A Redis URL stands for `redis` at that URL; resolveBulkheadConfig splits it.
      if (/^rediss?:\/\//i.test(text)) return parseText({ ...setting, type: "url" }, text, fail);
      const name = text.toLowerCase();
      if (!(BULKHEAD_STORE_KINDS as readonly string[]).includes(name)) return fail("unknown store");
      return name;
    }
    case "failure": {
      const name = text.toLowerCase();
      if (!(STORE_FAILURE_MODES as readonly string[]).includes(name)) return fail("unknown failure mode");
      return name;
    }
    case "url":
      if (!/^rediss?:\/\/[^\s]+$/i.test(text) || !URL.canParse(text)) return fail("not a Redis URL");
      return text;
    default:
      if (!/^[^\s{}]+$/.test(text)) return fail("empty, or holds spaces or braces");
      return text;
  }
}

const INTEGER = /^[+-]?\d[\d_]*$/;

function describeType(raw: unknown): string {
  if (raw === null) return "null";
  if (Array.isArray(raw)) return "an array";
  const type = typeof raw;
  return type === "object" ? "an object" : `a ${type}`;
}

/**
 * Reads and validates one raw value of a setting. `source` names where it came
 * from (`the variable WARDEN_BULKHEAD_POLICY`, `the option maxQueuePerUser`, ...)
 * and appears, with the value and the expected form, in the {@link ConfigError}
 * thrown for a bad value.
 */
export function parseBulkheadValue(setting: BulkheadSetting, raw: unknown, source: string): number | string {
  const fail = (reason: string): never => {
    throw new ConfigError({ source, value: raw, expected: expectedBulkheadForm(setting), reason });
  };

  if (setting.type === "policy" && typeof raw !== "string") return fail(`${describeType(raw)} is not a policy name`);
  if (setting.type === "policy" || setting.type === "store" || setting.type === "failure") {
    return parseText(setting, raw, fail);
  }
  if (setting.type === "url" || setting.type === "text") return parseText(setting, raw, fail);
  if (typeof raw !== "string" && typeof raw !== "number") return fail(`${describeType(raw)} is not a number`);

  let value: number;
  try {
    value = readNumber(setting.type, raw);
  } catch (error) {
    if (error instanceof UnitParseError) return fail(error.message);
    throw error;
  }
  if (!Number.isFinite(value)) return fail("not a finite number");

  switch (setting.type) {
    case "slots":
    case "timeout":
      if (value === 0 || value === -1) return value;
      break;
    case "queue":
      if (value === -1) return value;
      break;
    case "ttl":
      if (value === 0 || value === -1) {
        return fail(
          setting.key === "redisLeaseTtlMs"
            ? "a lease must expire for a dead instance's slots to come back"
            : "idle users must be cleaned up; use a long duration such as 1h",
        );
      }
      break;
    case "seconds":
      if (value === 0 || value === -1) return fail("a Retry-After is at least 1 second");
      break;
  }
  if (value < 0) return fail("negative values are not allowed other than -1");
  if (!Number.isInteger(value)) {
    const unit =
      setting.type === "timeout" || setting.type === "ttl"
        ? "milliseconds"
        : setting.type === "seconds"
          ? "seconds"
          : "requests";
    return fail(`${value} is not a whole number of ${unit}`);
  }
  if (!Number.isSafeInteger(value) || (setting.type === "seconds" && value > 2 ** 31 / 1000)) {
    return fail("the value is too large");
  }
  return value;
}

function readNumber(type: "slots" | "queue" | "timeout" | "ttl" | "seconds", raw: string | number): number {
  switch (type) {
    case "timeout":
    case "ttl":
      return parseDuration(raw);
    case "seconds": {
      if (typeof raw === "number") return raw;
      const text = raw.trim();
      // A bare number is seconds here (the variable is named for seconds); a
      // value with a unit is a duration and must come to whole seconds.
      if (/^[+-]?[\d_.]+(e[+-]?\d+)?$/i.test(text) && /\d/.test(text)) {
        const n = Number(text.replaceAll("_", ""));
        if (Number.isNaN(n)) throw new UnitParseError(`cannot read ${JSON.stringify(raw)}`, "");
        return n;
      }
      const ms = parseDuration(text);
      return ms / 1000;
    }
    case "slots":
    case "queue": {
      if (typeof raw === "number") return raw;
      const text = raw.trim();
      if (!INTEGER.test(text)) {
        if (/^[+-]?(\d+\.\d*|\.\d+)$/.test(text)) return Number(text);
        throw new UnitParseError("not a whole number", "");
      }
      return Number(text.replaceAll("_", ""));
    }
  }
}

/**
 * Checks rules that span settings. `origin` names where each value came
 * from, for the message.
 */
export function checkBulkheadRules(config: BulkheadConfig, origin: (key: BulkheadConfigKey) => string): void {
  if (config.maxRetryAfterSeconds < config.retryAfterSeconds) {
    throw new ConfigError({
      source: origin("maxRetryAfterSeconds"),
      value: config.maxRetryAfterSeconds,
      reason: `maxRetryAfterSeconds (${config.maxRetryAfterSeconds}) is below retryAfterSeconds (${config.retryAfterSeconds}, from ${origin("retryAfterSeconds")})`,
      expected: "a maxRetryAfterSeconds at least as large as retryAfterSeconds",
    });
  }
}
