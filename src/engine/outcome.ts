import { LimitExceededError, ScriptError, type LimitKind, type WardenError } from "../errors/index.js";
import type { LimitValues } from "../limits/index.js";
import type { PreparedSource } from "../transform/index.js";

/** The guest-side status: a tripped limit (if any) and instructions used. */
export interface GuestStatus {
  dead: { kind: LimitKind; limit: number; observed: number | undefined } | undefined;
  instructions: number;
  /** Peak bytes of memory the guest held outside the engine's measured heap (V8: resizable ArrayBuffers). */
  offHeapBytes: number;
}

/** Parses the prelude's `status()` string. */
export function parseStatus(text: string): GuestStatus {
  const [kind, limit, observed, instructions, offHeapBytes] = JSON.parse(text) as [
    LimitKind | null,
    number,
    number,
    number,
    number | undefined,
  ];
  return {
    dead: kind === null ? undefined : { kind, limit, observed: observed < 0 ? undefined : observed },
    instructions,
    offHeapBytes: offHeapBytes ?? 0,
  };
}

/** Splits the prelude's `finish()` answer into status and result JSON. */
export function parseFinish(text: string): { status: GuestStatus; json: string } {
  const newline = text.indexOf("\n");
  return { status: parseStatus(text.slice(0, newline)), json: text.slice(newline + 1) };
}

/** The limit error for a tripped guest status. */
export function limitFromStatus(dead: NonNullable<GuestStatus["dead"]>): LimitExceededError {
  return new LimitExceededError({
    kind: dead.kind,
    limit: dead.limit,
    ...(dead.observed === undefined ? {} : { observed: dead.observed }),
  });
}

/** A budget an engine enforced from outside the guest (watchdog, interrupt handler). */
export interface EnforcedTrip {
  kind: LimitKind;
  limit: number;
  observed?: number;
}

/**
 * The one order in which both engines explain a failed run: a budget the
 * engine enforced from outside the guest; then a limit the prelude recorded as
 * tripped (whatever the guest threw afterwards is a consequence: it may even
 * have caught the limit's own error); else the engine's reading of what was
 * thrown (`otherwise`).
 */
export function explainFailure(
  facts: { trip?: EnforcedTrip | undefined; status?: GuestStatus | undefined },
  otherwise: () => WardenError,
): WardenError {
  if (facts.trip) return new LimitExceededError(facts.trip);
  if (facts.status?.dead) return limitFromStatus(facts.status.dead);
  return otherwise();
}

/** Guest errors, as engines report them: name, message and stack text. */
export interface RawGuestError {
  name: string;
  message: string;
  stack: string;
}

const STACK_OVERFLOW = "Maximum call stack size exceeded";

/**
 * Classifies an uncaught guest error: engine resource errors become limit
 * errors (stack overflow -> recursion, failed ArrayBuffer allocation -> memory);
 * anything else is a {@link ScriptError} with positions in the user's file.
 */
export function classifyGuestError(raw: RawGuestError, prepared: PreparedSource, limits: LimitValues): WardenError {
  if (raw.name === "RangeError" && raw.message === STACK_OVERFLOW) {
    return new LimitExceededError({
      kind: "recursion",
      limit: limits.maxRecursionDepth > 0 ? limits.maxRecursionDepth : 0,
    });
  }
  if (raw.name === "RangeError" && raw.message === "Array buffer allocation failed" && limits.memoryBytes > 0) {
    return new LimitExceededError({ kind: "memory", limit: limits.memoryBytes });
  }
  const stack = cleanStack(prepared.remapStack(raw.stack || `${raw.name}: ${raw.message}`), prepared.filename);
  const position = prepared.firstPosition(stack);
  return new ScriptError({
    guestName: raw.name || "Error",
    guestMessage: raw.message,
    guestStack: stack,
    ...(position ? { position } : {}),
  });
}

/** Keeps the message and the guest's own frames; drops sandbox and host frames. */
function cleanStack(stack: string, filename: string): string {
  const lines = stack.split("\n");
  const kept = lines.filter((line, index) => index === 0 || !/^\s+at /.test(line) || line.includes(`${filename}:`));
  return kept.join("\n");
}

/** The error of a warm load whose source is a script: only a module has a default export to call. */
export function notAModule(filename: string): ScriptError {
  return new ScriptError({
    guestName: "TypeError",
    guestMessage: `${filename} is a script, not an ES module: a loaded app needs export default (a function, or { fetch(request, env, ctx) })`,
  });
}
