import { setMaxListeners } from "node:events";
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
  /** `ok`: the answer as JSON text; `error`: `{ name, message, code? }` as JSON; `limit`: `[kind, limit, observed]` as JSON. */
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
  if (!handler) {
    return {
      outcome: "error",
      text: JSON.stringify({ name: "Error", message: `${name} is not available in this sandbox` }),
    };
  }
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
    // The guest's Error gets the name, message and code (a spawned task's typed error keeps them).
    const failure = error instanceof Error ? error : new Error(String(error));
    const code = (failure as { code?: unknown }).code;
    return {
      outcome: "error",
      text: JSON.stringify({
        name: failure.name,
        message: failure.message,
        ...(typeof code === "string" ? { code } : {}),
      }),
    };
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

/**
 * The controller of a run's host calls: every pending call (a spawned task, a datastore
 * operation) listens to its signal, so it may have any number of listeners.
 */
export function unboundedController(): AbortController {
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  return controller;
}

/** The reason a run's host calls are aborted with (made once: a reason-less abort builds a DOMException each time). */
export const RUN_ENDED = new Error("the run ended");
