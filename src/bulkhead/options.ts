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
}

/** How a raw value of a setting is read and what it may be. */
export type BulkheadValueType = "slots" | "queue" | "timeout" | "ttl" | "seconds" | "policy";

/** One row of the settings table. */
export interface BulkheadSetting {
  /** Option and config-file key. */
  readonly key: BulkheadConfigKey;
  /** Environment variable. */
  readonly env: string;
  /** How values are read and checked. */
  readonly type: BulkheadValueType;
  /** Built-in default, in the key's unit. */
  readonly default: number | OverloadPolicy;
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
export function parseBulkheadValue(setting: BulkheadSetting, raw: unknown, source: string): number | OverloadPolicy {
  const fail = (reason: string): never => {
    throw new ConfigError({ source, value: raw, expected: expectedBulkheadForm(setting), reason });
  };

  if (setting.type === "policy") {
    if (typeof raw !== "string") return fail(`${describeType(raw)} is not a policy name`);
    const name = raw.trim().toLowerCase();
    if (!(OVERLOAD_POLICIES as readonly string[]).includes(name)) return fail("unknown overload policy");
    return name as OverloadPolicy;
  }
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
      if (value === 0 || value === -1) return fail("idle users must be cleaned up; use a long duration such as 1h");
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

function readNumber(type: Exclude<BulkheadValueType, "policy">, raw: string | number): number {
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
