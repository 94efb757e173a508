import { ERROR_CODES, type ErrorCode } from "./codes.js";
import { LIMIT_CODES, type LimitKind } from "./limit-kinds.js";
import { formatDuration, formatSize } from "../units/index.js";

/**
 * Brand carried by every Warden error. It is a registered symbol, so a guard
 * still recognises an error thrown by another copy of the package.
 */
export const WARDEN_ERROR_BRAND: unique symbol = Symbol.for("warden.error") as never;

/** The failure families; each has one subclass. */
export type ErrorFamily =
  | "limit"
  | "script"
  | "config"
  | "overload"
  | "queue_timeout"
  | "engine"
  | "disposed"
  | "aborted"
  | "store_unavailable"
  | "not_found"
  | "shutting_down";

/** Options common to every Warden error. */
export interface WardenErrorOptions {
  /** The underlying error, if any. */
  cause?: unknown;
}

/** Base class of every error Warden throws or returns. */
export class WardenError extends Error {
  /** Stable machine-readable code, see `ERROR_CODES`. */
  readonly code: ErrorCode;
  /** HTTP status a server answers with, from the one table. */
  readonly status: number;
  /** Failure family, used by the cross-copy type guards. */
  readonly [WARDEN_ERROR_BRAND]: ErrorFamily;

  constructor(family: ErrorFamily, code: ErrorCode, message: string, options: WardenErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "WardenError";
    this.code = code;
    this.status = ERROR_CODES[code].status;
    this[WARDEN_ERROR_BRAND] = family;
  }

  /** Plain-data form, safe to send to a client or log. */
  toJSON(): Record<string, unknown> {
    return { name: this.name, code: this.code, status: this.status, message: this.message };
  }
}

/** Unit in which a limit is expressed. */
export type LimitUnit = "ms" | "instructions" | "bytes" | "calls" | "tasks" | "connections" | "requests";

const LIMIT_UNITS: Readonly<Record<LimitKind, LimitUnit>> = {
  timeout: "ms",
  cpu: "ms",
  instructions: "instructions",
  memory: "bytes",
  recursion: "calls",
  value_size: "bytes",
  tasks: "tasks",
  connections: "connections",
  datastore_size: "bytes",
  subrequests: "requests",
};

/** Short advice shown with the recursion error. */
export const RECURSION_HINT =
  "possible infinite recursion: check base cases, mutual recursion between functions, and very deep call chains";

/** The message of each limit, exactly as in the limits table; it always carries the limit value. */
export function limitMessage(kind: LimitKind, limit: number): string {
  switch (kind) {
    case "timeout":
      return `execution timeout after ${formatDuration(limit)}`;
    case "cpu":
      return `CPU time limit exceeded (${formatDuration(limit)})`;
    case "instructions":
      return `instruction limit exceeded (${limit})`;
    case "memory":
      return `memory limit exceeded (${formatSize(limit)})`;
    case "recursion":
      // No depth limit set (0): the engine's own stack was the limit, and it is not counted in calls.
      return limit > 0
        ? `maximum recursion depth exceeded (${limit} calls)`
        : "maximum recursion depth exceeded (the engine's call stack ran out; no depth limit is set)";
    case "value_size":
      return `value size exceeds maximum (${formatSize(limit)})`;
    case "tasks":
      return `maximum concurrent tasks exceeded (${limit})`;
    case "connections":
      return `HTTP server capacity exceeded (${limit} connections)`;
    case "datastore_size":
      return `datastore size limit exceeded (${formatSize(limit)})`;
    case "subrequests":
      return `maximum subrequests exceeded (${limit})`;
  }
}

/** Fields of a {@link LimitExceededError}. */
export interface LimitExceededDetails extends WardenErrorOptions {
  /** Which limit was hit. */
  kind: LimitKind;
  /** The configured limit, in `unit`. */
  limit: number;
  /** What was observed when the limit tripped, in `unit`, where known. */
  observed?: number;
}

/** A run, sandbox or server hit one of its configured limits. Terminal for the run. */
export class LimitExceededError extends WardenError {
  /** Which limit was hit. */
  readonly kind: LimitKind;
  /** The configured limit, in `unit`. */
  readonly limit: number;
  /** The observed value, in `unit`, where known. */
  readonly observed: number | undefined;
  /** Unit of `limit` and `observed`. */
  readonly unit: LimitUnit;
  /** Advice for the user, where there is any (recursion). */
  readonly hint: string | undefined;

  constructor(details: LimitExceededDetails) {
    super("limit", LIMIT_CODES[details.kind], limitMessage(details.kind, details.limit), details);
    this.name = "LimitExceededError";
    this.kind = details.kind;
    this.limit = details.limit;
    this.observed = details.observed;
    this.unit = LIMIT_UNITS[details.kind];
    this.hint = details.kind === "recursion" ? RECURSION_HINT : undefined;
  }

  override toJSON(): Record<string, unknown> {
    return {
      ...super.toJSON(),
      kind: this.kind,
      limit: this.limit,
      ...(this.observed === undefined ? {} : { observed: this.observed }),
      unit: this.unit,
      ...(this.hint === undefined ? {} : { hint: this.hint }),
    };
  }
}

/** A position in the user's original source file (1-based line and column). */
export interface SourcePosition {
  file: string;
  line: number;
  column: number;
}

/** Fields of a {@link ScriptError}. */
export interface ScriptErrorDetails extends WardenErrorOptions {
  /** The guest error's `name`, e.g. `TypeError` or `SyntaxError`. */
  guestName: string;
  /** The guest error's message. */
  guestMessage: string;
  /** The guest stack, with positions in the user's original file. */
  guestStack?: string;
  /** Where the error was thrown, in the user's original file. */
  position?: SourcePosition;
}

/** The guest threw, rejected, or did not parse. */
export class ScriptError extends WardenError {
  /** The guest error's `name`. */
  readonly guestName: string;
  /** The guest error's message. */
  readonly guestMessage: string;
  /** The guest stack (positions in the user's original file); empty if unknown. */
  readonly guestStack: string;
  /** Where the error was thrown, if known. */
  readonly position: SourcePosition | undefined;

  constructor(details: ScriptErrorDetails) {
    const where = details.position
      ? ` (${details.position.file}:${details.position.line}:${details.position.column})`
      : "";
    super("script", "WARDEN_SCRIPT_ERROR", `${details.guestName}: ${details.guestMessage}${where}`, details);
    this.name = "ScriptError";
    this.guestName = details.guestName;
    this.guestMessage = details.guestMessage;
    this.guestStack = details.guestStack ?? "";
    this.position = details.position;
  }

  override toJSON(): Record<string, unknown> {
    return {
      ...super.toJSON(),
      guestName: this.guestName,
      guestMessage: this.guestMessage,
      guestStack: this.guestStack,
      ...(this.position ? { position: this.position } : {}),
    };
  }
}

/** Fields of a {@link ConfigError}. */
export interface ConfigErrorDetails extends WardenErrorOptions {
  /** Where the bad value came from: `the variable WARDEN_TIMEOUT`, `the flag --timeout`, `warden.config.json key limits.timeoutMs`. */
  source: string;
  /** The bad value as given, if there was one. */
  value?: unknown;
  /** What was expected instead. */
  expected: string;
  /** Extra explanation, placed before the expected form. */
  reason?: string;
}

/** A configuration value is malformed. Nothing was changed. */
export class ConfigError extends WardenError {
  /** Where the bad value came from. */
  readonly source: string;
  /** The bad value as given. */
  readonly value: unknown;
  /** What was expected instead. */
  readonly expected: string;

  constructor(details: ConfigErrorDetails) {
    const reason = details.reason ? `: ${details.reason}` : "";
    const head =
      "value" in details ? `invalid value ${JSON.stringify(details.value)} from ${details.source}` : details.source;
    super("config", "WARDEN_CONFIG_ERROR", `${head}${reason}; expected ${details.expected}`, details);
    this.name = "ConfigError";
    this.source = details.source;
    this.value = details.value;
    this.expected = details.expected;
  }
}

/** Which queue rejected a request. */
export type OverloadScope = "user" | "global";

/** Fields of an {@link OverloadError}. */
export interface OverloadErrorDetails extends WardenErrorOptions {
  /** The queue that was full. */
  scope: OverloadScope;
  /** Seconds the client should wait before retrying (whole, at least 1). */
  retryAfter: number;
  /** Requests in the full queue. */
  queued: number;
  /** Capacity of the full queue. */
  capacity: number;
  /** Message override; defaults to the limiter's standard message. */
  message?: string;
}

/** A bulkhead queue is full; answer 429 with `Retry-After`. */
export class OverloadError extends WardenError {
  /** The queue that was full. */
  readonly scope: OverloadScope;
  /** Seconds to wait before retrying. */
  readonly retryAfter: number;
  /** Requests in the full queue when this was raised. */
  readonly queued: number;
  /** Capacity of the full queue. */
  readonly capacity: number;

  constructor(details: OverloadErrorDetails) {
    const message =
      details.message ??
      (details.scope === "user"
        ? `User queue full (${details.queued}/${details.capacity}). Too many concurrent requests.`
        : `Global queue full (${details.queued}/${details.capacity}). System is overloaded.`);
    super("overload", "WARDEN_OVERLOADED", message, details);
    this.name = "OverloadError";
    this.scope = details.scope;
    this.retryAfter = details.retryAfter;
    this.queued = details.queued;
    this.capacity = details.capacity;
  }

  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), scope: this.scope, retryAfter: this.retryAfter };
  }
}

/** A request waited in a bulkhead queue longer than the queue timeout; answer 408. */
export class QueueTimeoutError extends WardenError {
  /** The configured queue timeout in milliseconds. */
  readonly timeoutMs: number;
  /** How long the request actually waited, in milliseconds. */
  readonly waitedMs: number;

  constructor(timeoutMs: number, waitedMs: number, options: WardenErrorOptions = {}) {
    super(
      "queue_timeout",
      "WARDEN_QUEUE_TIMEOUT",
      `request waited in queue longer than ${timeoutMs}ms (waited ${Math.round(waitedMs)}ms)`,
      options,
    );
    this.name = "QueueTimeoutError";
    this.timeoutMs = timeoutMs;
    this.waitedMs = waitedMs;
  }
}

/** The sandbox engine failed in a way that is not the guest's fault; the sandbox was thrown away. */
export class EngineError extends WardenError {
  constructor(message: string, options: WardenErrorOptions = {}) {
    super("engine", "WARDEN_ENGINE_ERROR", message, options);
    this.name = "EngineError";
  }
}

/** A disposed resource (runtime, bulkhead, server) was used. */
export class DisposedError extends WardenError {
  constructor(what: string) {
    super("disposed", "WARDEN_DISPOSED", `${what} has been closed and cannot be used`);
    this.name = "DisposedError";
  }
}

/** The caller's AbortSignal fired. */
export class AbortedError extends WardenError {
  constructor(message = "operation aborted", options: WardenErrorOptions = {}) {
    super("aborted", "WARDEN_ABORTED", message, options);
    this.name = "AbortedError";
  }
}

/** Fields of a {@link StoreUnavailableError}. */
export interface StoreUnavailableErrorDetails extends WardenErrorOptions {
  /** What could not be reached, e.g. `Redis at redis://10.0.0.5:6379`. */
  store: string;
  /** Seconds the client should wait before retrying (whole, at least 1). */
  retryAfter: number;
  /** Message override; defaults to one naming the store. */
  message?: string;
}

/**
 * A shared store (Redis) that holds the bulkhead's slots cannot be reached,
 * and the bulkhead fails closed; answer 503 with `Retry-After`.
 */
export class StoreUnavailableError extends WardenError {
  /** What could not be reached. */
  readonly store: string;
  /** Seconds to wait before retrying. */
  readonly retryAfter: number;

  constructor(details: StoreUnavailableErrorDetails) {
    super(
      "store_unavailable",
      "WARDEN_STORE_UNAVAILABLE",
      details.message ?? `${details.store} cannot be reached; the request was not admitted`,
      details,
    );
    this.name = "StoreUnavailableError";
    this.store = details.store;
    this.retryAfter = details.retryAfter;
  }

  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), retryAfter: this.retryAfter };
  }
}
