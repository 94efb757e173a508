import { isLimitExceeded } from "../errors/index.js";

/**
 * Serves one guest request to a host facility (the datastore, spawn...):
 * `name` and its arguments as JSON text (already checked against the run's
 * `maxValueBytes` inside the sandbox) to the answer as JSON text (empty for
 * `undefined`). A rejection reaches the guest as an `Error` with the same
 * message; a rejection with a `LimitExceededError` ends the run with that
 * limit. `signal` aborts when the run ends: nothing it started may outlive it.
 */
export type HostCallHandler = (name: string, argsJson: string, signal: AbortSignal) => Promise<string>;

/** How a host call ended, as the prelude's `settleCall` takes it (see `prelude-host.ts`). */
export interface HostCallAnswer {
  outcome: "ok" | "error" | "limit";
  /** `ok`: the answer as JSON text; `error`: the message; `limit`: `[kind, limit, observed]` as JSON. */
  text: string;
}

/**
 * Runs a host call to its answer: the handler's JSON text checked against
 * `maxValueBytes` before it is copied into the sandbox, errors as messages,
 * limit errors as limits. Never rejects.
 */
export async function answerHostCall(
  handler: HostCallHandler | undefined,
  name: string,
  argsJson: string,
  signal: AbortSignal,
  maxValueBytes: number,
): Promise<HostCallAnswer> {
  if (!handler) return { outcome: "error", text: `${name} is not available in this sandbox` };
  try {
    const text = await handler(name, argsJson, signal);
    if (maxValueBytes > 0 && text.length > maxValueBytes) {
      return { outcome: "limit", text: JSON.stringify(["value_size", maxValueBytes, text.length]) };
    }
    return { outcome: "ok", text };
  } catch (error) {
    if (isLimitExceeded(error)) {
      return { outcome: "limit", text: JSON.stringify([error.kind, error.limit, error.observed ?? -1]) };
    }
    return { outcome: "error", text: error instanceof Error ? error.message : String(error) };
  }
}

/** Sleeps `ms` milliseconds (a guest timer), or until `signal` aborts; resolves either way. */
export function sleepFor(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, Math.max(0, Math.min(ms, 2 ** 31 - 1)));
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
