/**
 * The one message protocol between an engine's host side and its sandboxes:
 * V8 sandbox processes (over the IPC channel) and QuickJS worker threads
 * (over a message port) send and receive the same messages. Everything that
 * crosses is plain data, so no guest value is ever structured-cloned into the
 * host: the result is JSON text, errors are {@link WireError}s.
 */
import {
  AbortedError,
  EngineError,
  LimitExceededError,
  ScriptError,
  isAbortedError,
  isLimitExceeded,
  isScriptError,
  isWardenError,
  type LimitKind,
  type SourcePosition,
  type WardenError,
} from "../errors/index.js";
import type { LimitValues } from "../limits/index.js";
import type { ConsoleLevel, EngineRunOutcome, InstanceCallKind, Usage, WarningBudget } from "./contract.js";
import type { HostCallAnswer } from "./host-calls.js";

/**
 * A run, as the host hands it to a sandbox. The sandbox prepares the source
 * itself (the transform's cache makes a repeated source cost nothing), so the
 * preparation of a new source happens off the host's thread.
 */
export interface RunMessage {
  type: "run";
  /** Run id, unique per sandbox. */
  id: number;
  /** The user's original source. */
  source: string;
  /** The user's file name (stack traces, module name, compile caches). */
  filename: string;
  /** Effective limits of the run. */
  limits: LimitValues;
  /** The input as JSON text (already size-checked), or undefined for none. */
  inputJson: string | undefined;
}

/**
 * Asks a sandbox to stop the guest of a run. (A QuickJS worker runs its guest
 * synchronously and cannot read messages meanwhile: its host asks through
 * shared memory instead.)
 */
export interface AbortMessage {
  type: "abort";
  id: number;
}

/** Loads a module into a warm instance of its own; the instance's id is the message's id. */
export interface LoadMessage {
  type: "load";
  id: number;
  source: string;
  filename: string;
  limits: LimitValues;
}

/** One call of a warm instance; aborted with an {@link AbortMessage} of the call's id. */
export interface CallMessage {
  type: "call";
  /** Call id, unique per sandbox (shared with run ids). */
  id: number;
  /** The instance: the id of the message that loaded it. */
  instance: number;
  kind: InstanceCallKind;
  inputJson: string;
  limits: LimitValues;
}

/** Releases a warm instance. */
export interface UnloadMessage {
  type: "unload";
  instance: number;
}

/** The answer to a host call (see `host-calls.ts`). */
export interface HostReplyMessage extends HostCallAnswer {
  type: "hostreply";
  /** The run, load or call that made the host call. */
  id: number;
  /** The host call's id within it. */
  call: number;
}

/** Host to sandbox. */
export type HostMessage = RunMessage | AbortMessage | LoadMessage | CallMessage | UnloadMessage | HostReplyMessage;

/** A typed error in plain data. */
export type WireError =
  | { family: "limit"; kind: LimitKind; limit: number; observed?: number }
  | { family: "script"; guestName: string; guestMessage: string; guestStack: string; position?: SourcePosition }
  | { family: "aborted"; message: string }
  | { family: "engine"; message: string };

/** How a run ended, in plain data: the {@link EngineRunOutcome} of the sandbox side. */
export type WireOutcome = { ok: true; json: string; usage: Usage } | { ok: false; error: WireError; usage: Usage };

/** Sandbox to host. */
export type SandboxMessage =
  /** The sandbox is ready for runs. */
  | { type: "ready" }
  /** A line the guest of a run wrote to its console (already size-checked). */
  | { type: "console"; id: number; level: ConsoleLevel; text: string }
  /** A budget of a run crossed its warning threshold. */
  | { type: "warning"; id: number; budget: WarningBudget; fraction: number }
  /** The guest of a run asks a host facility (`name`, arguments as JSON); the host answers with a `hostreply`. */
  | { type: "hostcall"; id: number; call: number; name: string; args: string }
  /** A run ended. */
  | ({ type: "result"; id: number } & WireOutcome)
  /**
   * The run's result waits on a promise nothing is left to settle. The sandbox is free again;
   * the host ends the run at its wall-clock deadline, as if the guest had waited there.
   */
  | { type: "stalled"; id: number; usage: Usage }
  /** The sandbox can take no more runs but finishes those it has (a V8 process that lost an isolate to a fatal out-of-memory). */
  | { type: "retire" }
  /** The sandbox failed for good and exits right away; `id` is the run it was busy with, if any (a QuickJS worker with no working module). */
  | { type: "fatal"; id: number | undefined; name: string; message: string };

/** Turns a typed error into plain data. */
export function toWire(error: WardenError): WireError {
  if (isLimitExceeded(error)) {
    return {
      family: "limit",
      kind: error.kind,
      limit: error.limit,
      ...(error.observed === undefined ? {} : { observed: error.observed }),
    };
  }
  if (isScriptError(error)) {
    return {
      family: "script",
      guestName: error.guestName,
      guestMessage: error.guestMessage,
      guestStack: error.guestStack,
      ...(error.position ? { position: error.position } : {}),
    };
  }
  if (isAbortedError(error)) return { family: "aborted", message: error.message };
  return { family: "engine", message: (error as WardenError).message };
}

/** Rebuilds the typed error on the host side. */
export function fromWire(wire: WireError): WardenError {
  switch (wire.family) {
    case "limit":
      return new LimitExceededError({
        kind: wire.kind,
        limit: wire.limit,
        ...(wire.observed === undefined ? {} : { observed: wire.observed }),
      });
    case "script":
      return new ScriptError(wire);
    case "aborted":
      return new AbortedError(wire.message);
    case "engine":
      return new EngineError(wire.message);
  }
}

/** A run's outcome as plain data. */
export function outcomeToWire(outcome: EngineRunOutcome): WireOutcome {
  return outcome.ok ? outcome : { ok: false, error: toWire(outcome.error), usage: outcome.usage };
}

/** A run's outcome from plain data. */
export function outcomeFromWire(wire: WireOutcome): EngineRunOutcome {
  return wire.ok
    ? { ok: true, json: wire.json, usage: wire.usage }
    : { ok: false, error: fromWire(wire.error), usage: wire.usage };
}

/** The outcome of a run whose sandbox side failed before it could say more (any thrown value). */
export function failedOutcome(error: unknown, usage: Usage): WireOutcome {
  const wire: WireError = isWardenError(error)
    ? toWire(error)
    : { family: "engine", message: String((error as Error)?.message ?? error) };
  return { ok: false, error: wire, usage };
}
