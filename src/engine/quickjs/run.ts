/**
 * One run in a QuickJS worker, from the host's {@link RunMessage} to its
 * outcome: plan it (prepare the source, size the heap budget), run it in the
 * worker's {@link SandboxHost}, and turn how it ended into a result or a
 * typed error, so that the worker answers with the same outcome a V8 sandbox
 * process sends.
 */
import { EngineError, LimitExceededError, ScriptError, AbortedError, type WardenError } from "../../errors/index.js";
import type { LimitValues } from "../../limits/index.js";
import { prepareSource, type PreparedSource } from "../../transform/index.js";
import { countsCalls, type Usage } from "../contract.js";
import {
  classifyGuestError,
  explainFailure,
  limitFromStatus,
  notAModule,
  parseFinish,
  parseStatus,
  type GuestStatus,
} from "../outcome.js";
import { preludeRunConfig } from "../prelude.js";
import {
  failedOutcome,
  outcomeToWire,
  type CallMessage,
  type LoadMessage,
  type RunMessage,
  type WireOutcome,
} from "../protocol.js";
import { HEAP_CEILING_BYTES } from "./heap.js";
import type { ReportedError, RunEnding, RunPlan } from "./protocol.js";
import type { SandboxHost, SandboxWork } from "./sandbox.js";

/** The heap budget of a run: its memory limit, at most the engine's ceiling, which also stands for "no limit". */
export function heapBudget(limits: LimitValues): { memoryBytes: number; memoryConfigured: boolean } {
  const memoryConfigured = limits.memoryBytes > 0;
  return {
    memoryBytes: memoryConfigured ? Math.min(limits.memoryBytes, HEAP_CEILING_BYTES) : HEAP_CEILING_BYTES,
    memoryConfigured,
  };
}

/** What the sandbox needs to run guest code under `limits`. */
export function planRun(
  id: number,
  prepared: PreparedSource,
  limits: LimitValues,
  inputJson: string | undefined,
): RunPlan {
  const { memoryBytes, memoryConfigured } = heapBudget(limits);
  return {
    id,
    prepared,
    limits,
    // As on V8: with no memory limit configured, over-long strings and buffers stay RangeErrors.
    config: preludeRunConfig(limits, inputJson, memoryConfigured ? memoryBytes : 0),
    timeoutMs: limits.timeoutMs,
    cpuTimeMs: limits.cpuTimeMs,
    warnAt: limits.warnAt,
    memoryBytes,
    memoryConfigured,
  };
}

/**
 * Runs one message to the answer the worker sends: its outcome, or `"stalled"`
 * for a result that can never settle under a wall-clock budget (the host then
 * ends the run at its deadline). `crashed` is true when the host side of the
 * run failed and the worker must replace its module instance.
 */
export function runMessage(
  host: SandboxHost,
  message: RunMessage | LoadMessage | CallMessage,
  loaded: () => PreparedSource | undefined,
): { outcome: WireOutcome | { stalled: true; usage: Usage }; crashed: boolean } {
  const startedAt = performance.now();
  let plan: RunPlan;
  let work: SandboxWork;
  try {
    if (message.type === "call") {
      const prepared = loaded();
      if (!prepared) throw new EngineError("no warm instance is loaded in this worker");
      plan = planRun(message.id, prepared, message.limits, undefined);
      work = { type: "call", kind: message.kind, inputJson: message.inputJson };
    } else {
      // A fresh run counts calls and loops only if its limits need it; a load always does.
      const counted = message.type === "load" || countsCalls(message.limits);
      const prepared = prepareSource(message.source, message.filename, counted);
      if (message.type === "load" && prepared.kind !== "module") throw notAModule(prepared.filename);
      plan = planRun(message.id, prepared, message.limits, message.type === "run" ? message.inputJson : undefined);
      work = { type: message.type };
    }
  } catch (error) {
    return {
      outcome: failedOutcome(error, { wallMs: 0, cpuMs: 0, instructions: 0, peakMemoryBytes: 0 }),
      crashed: false,
    };
  }
  let ending: RunEnding;
  let cpuMs = 0;
  let peakMemoryBytes = 0;
  let crashed = false;
  try {
    const ran = host.run(plan, work);
    ending = ran.result;
    ({ cpuMs, peakMemoryBytes } = ran.usage);
  } catch (error) {
    // The host side of the run failed: answer the run; the worker then drops the module instance.
    const failure = error instanceof Error ? error : new Error(String(error));
    ending = { ending: "crashed", name: failure.name, message: failure.message };
    crashed = true;
  }
  let status: GuestStatus | undefined;
  const result = explainEnding(ending, plan, (s) => (status = s));
  const usage: Usage = {
    wallMs: performance.now() - startedAt,
    cpuMs,
    instructions: status?.instructions ?? 0,
    peakMemoryBytes,
  };
  if (result === "stalled") return { outcome: { stalled: true, usage }, crashed };
  return {
    outcome: outcomeToWire(
      result.ok ? { ok: true, json: result.json, usage } : { ok: false, error: result.error, usage },
    ),
    crashed,
  };
}

/** Turns how a run ended in the sandbox into a result or a typed error. */
function explainEnding(
  ending: RunEnding,
  plan: RunPlan,
  setStatus: (status: GuestStatus) => void,
): { ok: true; json: string } | { ok: false; error: WardenError } | "stalled" {
  const { limits, prepared, memoryBytes } = plan;
  if (ending.ending === "finished") {
    const { status, json } = parseFinish(ending.finish);
    setStatus(status);
    return status.dead ? { ok: false, error: limitFromStatus(status.dead) } : { ok: true, json };
  }
  if (ending.ending === "crashed") return { ok: false, error: explainCrash(ending.name, ending.message, limits) };
  const status = parseStatus(ending.status);
  setStatus(status);
  const trip = ending.ending === "tripped" ? ending.trip : undefined;
  if (ending.ending === "stalled" && !status.dead && limits.timeoutMs > 0) return "stalled";
  return {
    ok: false,
    error: explainFailure({ trip, status }, () => {
      switch (ending.ending) {
        case "aborted":
          return new AbortedError("the run was aborted");
        case "out_of_memory":
          return new LimitExceededError({ kind: "memory", limit: memoryBytes });
        case "threw":
          return classify(ending.error, prepared, limits, memoryBytes);
        case "stalled":
          return new ScriptError({
            guestName: "Error",
            guestMessage: "the result never settles: it waits on a promise that nothing can resolve",
          });
        default:
          return new EngineError(`unknown run ending ${JSON.stringify(ending)}`);
      }
    }),
  };
}

/**
 * QuickJS's own resource errors become the limit errors V8's become;
 * anything else is a script error.
 */
function classify(error: ReportedError, prepared: PreparedSource, limits: LimitValues, memoryBytes: number) {
  const { name, message } = error;
  // A request beyond the heap budget (QuickJS's own per-allocation check).
  if (name === "InternalError" && message === "out of memory") {
    return new LimitExceededError({ kind: "memory", limit: memoryBytes });
  }
  // An ArrayBuffer or string longer than QuickJS allows at all: with a memory limit, a memory
  // error, as V8's "Array buffer allocation failed" and "Invalid string length" are.
  if (
    limits.memoryBytes > 0 &&
    name === "RangeError" &&
    (message === "invalid array buffer length" || message === "invalid string length")
  ) {
    return new LimitExceededError({ kind: "memory", limit: memoryBytes });
  }
  // QuickJS's stack limit, where V8 would throw "Maximum call stack size exceeded".
  if ((name === "InternalError" || name === "SyntaxError") && message === "stack overflow") {
    return new LimitExceededError({
      kind: "recursion",
      limit: limits.maxRecursionDepth > 0 ? limits.maxRecursionDepth : 0,
    });
  }
  return classifyGuestError(error, prepared, limits);
}

/** The host side of a run failed in the worker; the worker replaces its module instance. */
function explainCrash(name: string, message: string, limits: LimitValues): WardenError {
  // V8's own stack overflowed under a native recursion QuickJS did not stop in time.
  if (name === "RangeError" && /call stack/i.test(message)) {
    return new LimitExceededError({
      kind: "recursion",
      limit: limits.maxRecursionDepth > 0 ? limits.maxRecursionDepth : 0,
    });
  }
  return new EngineError(`the QuickJS sandbox failed (${name}: ${message}); it was replaced`);
}
