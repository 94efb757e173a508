import { WARDEN_ERROR_BRAND, type ErrorFamily } from "./errors.js";
import type {
  AbortedError,
  ConfigError,
  DisposedError,
  EngineError,
  LimitExceededError,
  OverloadError,
  QueueTimeoutError,
  ScriptError,
  StoreUnavailableError,
  WardenError,
} from "./errors.js";

// Guards read the registered-symbol brand rather than using instanceof, so they
// still work when two copies of the package are loaded.
function familyOf(value: unknown): ErrorFamily | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const family = (value as { [WARDEN_ERROR_BRAND]?: unknown })[WARDEN_ERROR_BRAND];
  return typeof family === "string" ? (family as ErrorFamily) : undefined;
}

/** True for any Warden error. */
export function isWardenError(value: unknown): value is WardenError {
  return familyOf(value) !== undefined;
}
/** True for a {@link LimitExceededError}. */
export function isLimitExceeded(value: unknown): value is LimitExceededError {
  return familyOf(value) === "limit";
}
/** True for a {@link ScriptError}. */
export function isScriptError(value: unknown): value is ScriptError {
  return familyOf(value) === "script";
}
/** True for a {@link ConfigError}. */
export function isConfigError(value: unknown): value is ConfigError {
  return familyOf(value) === "config";
}
/** True for an {@link OverloadError}. */
export function isOverloadError(value: unknown): value is OverloadError {
  return familyOf(value) === "overload";
}
/** True for a {@link QueueTimeoutError}. */
export function isQueueTimeoutError(value: unknown): value is QueueTimeoutError {
  return familyOf(value) === "queue_timeout";
}
/** True for an {@link EngineError}. */
export function isEngineError(value: unknown): value is EngineError {
  return familyOf(value) === "engine";
}
/** True for a {@link DisposedError}. */
export function isDisposedError(value: unknown): value is DisposedError {
  return familyOf(value) === "disposed";
}
/** True for an {@link AbortedError}. */
export function isAbortedError(value: unknown): value is AbortedError {
  return familyOf(value) === "aborted";
}
/** True for a {@link StoreUnavailableError}. */
export function isStoreUnavailableError(value: unknown): value is StoreUnavailableError {
  return familyOf(value) === "store_unavailable";
}
