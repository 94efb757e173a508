import {
  AbortedError,
  EngineError,
  LimitExceededError,
  ScriptError,
  isAbortedError,
  isLimitExceeded,
  isScriptError,
  type LimitKind,
  type SourcePosition,
  type WardenError,
} from "../../errors/index.js";
import type { LimitValues } from "../../limits/index.js";
import type { ConsoleLevel, Usage, WarningBudget } from "../contract.js";

/**
 * Runs a sandbox process is given at a time; the host queues the rest. The
 * process keeps as many isolates warm, so that it never creates an isolate for
 * a run (about 1 ms) while its cores are busy anyway.
 */
export const RUNS_PER_PROCESS = 2;

/** A run, as the host sends it to a sandbox process. */
export interface RunMessage {
  type: "run";
  id: number;
  source: string;
  filename: string;
  limits: LimitValues;
  inputJson: string | undefined;
}

/** Host to sandbox process. */
export type HostMessage = RunMessage | { type: "abort"; id: number };

/** A typed error in plain data. */
export type WireError =
  | { family: "limit"; kind: LimitKind; limit: number; observed?: number }
  | { family: "script"; guestName: string; guestMessage: string; guestStack: string; position?: SourcePosition }
  | { family: "aborted"; message: string }
  | { family: "engine"; message: string };

/** Sandbox process to host. */
export type ChildMessage =
  | { type: "ready" }
  | { type: "console"; id: number; level: ConsoleLevel; text: string }
  | { type: "warning"; id: number; budget: WarningBudget; fraction: number }
  | { type: "result"; id: number; ok: true; json: string; usage: Usage }
  | { type: "result"; id: number; ok: false; error: WireError; usage: Usage }
  /** The process lost an isolate to a fatal out-of-memory: send it no more runs and end it once idle. */
  | { type: "retire" };

/** Turns a typed error into plain data for the IPC channel. */
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
