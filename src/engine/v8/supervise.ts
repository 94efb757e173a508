import { AbortedError, EngineError, LimitExceededError, type WardenError } from "../../errors/index.js";
import type { LimitValues } from "../../limits/index.js";
import type { PreparedSource } from "../../transform/index.js";
import { warnOncePerBudget, type EngineRunOutcome, type RunReporter, type Usage } from "../contract.js";
import {
  classifyGuestError,
  explainFailure,
  limitFromStatus,
  parseFinish,
  parseStatus,
  type GuestStatus,
} from "../outcome.js";
import { Watchdog, type WatchdogTrip } from "../watchdog.js";
import { RUN_ENDED, answerHostCall, sleepFor, unboundedController } from "../host-calls.js";
import { isolateMemoryMb, type ContextRun, type IsolateSandbox, type PreparedContext } from "./sandbox.js";

/** What {@link superviseRun} needs of a run or a warm call. */
export interface SupervisedRequest extends RunReporter {
  limits: LimitValues;
  /** The guest's prepared source: error positions map back through it. */
  prepared: PreparedSource;
  signal?: AbortSignal | undefined;
}

/** What a run's body can do besides its engine work: a synchronous call reports through it. */
export interface RunControl {
  /** The isolate's `cpuTime` (ns) when the run started. */
  readonly cpuStartNs: number;
  /** Milliseconds since the run started. */
  elapsedMs(): number;
  /** The synchronous watchdog enforced a budget (it disposed the isolate). */
  tripped(trip: WatchdogTrip): void;
  /** The thread was blocked in a synchronous call, when no timer could fire: check the budgets now. */
  poll(): void;
}

/** Reads a guest error that isolated-vm copied to the host. */
function rawGuestError(error: unknown): { name: string; message: string; stack: string } {
  if (error instanceof Error) return { name: error.name, message: error.message, stack: error.stack ?? "" };
  return { name: "Error", message: `uncaught ${typeof error}: ${String(error)}`, stack: "" };
}

/**
 * Runs guest code in an isolate under one run's budgets, from start to
 * outcome: the wall-clock and CPU watchdog and the abort signal (both dispose
 * the isolate), the prelude's answer, the typed error of a failure, usage and
 * the isolate's heap after the run. `body` does the engine work (take a
 * context, compile, evaluate or call) and returns the prelude's finish answer
 * (`status + "\n" + json`); it gets the run's reporter, whose warnings fire
 * once per budget, and the run's {@link RunControl}. `context` gives the
 * context in use, if any, for the prelude's status after a failure. The caller
 * owns the isolate and context.
 * Shared by fresh runs (`isolate-runner.ts`) and warm instances (`instance.ts`).
 */
export async function superviseRun(
  sandbox: IsolateSandbox,
  request: SupervisedRequest,
  body: (reporter: ContextRun, control: RunControl) => Promise<string>,
  context: () => PreparedContext | undefined,
): Promise<EngineRunOutcome> {
  const { limits } = request;
  const cpuStart = sandbox.isolate.cpuTime;
  // The isolate's CPU clock, plus what this process spent in the run's synchronous callbacks.
  let hostMs = 0;
  const cpuMs = () => (sandbox.isolate.isDisposed ? 0 : Number(sandbox.isolate.cpuTime - cpuStart) / 1e6) + hostMs;
  let lastCpuMs = 0;
  let killed: WatchdogTrip | undefined;
  const warn = warnOncePerBudget(request.onWarning);
  const watchdog = new Watchdog(limits, {
    cpuMs: () => (lastCpuMs = cpuMs()),
    kill: (trip) => {
      killed = trip;
      sandbox.dispose();
    },
    warn,
  });
  let aborted = false;
  const onAbort = () => {
    aborted = true;
    watchdog.stop();
    sandbox.dispose();
  };
  request.signal?.addEventListener("abort", onAbort, { once: true });
  // The run's host calls end with it.
  // Made on the first host call: most runs make none.
  let calls: AbortController | undefined;
  const hostRequest = (id: number, name: string, argsJson: string): void => {
    calls ??= unboundedController();
    const signal = calls.signal;
    const answer = (outcome: string, text: string) => {
      if (!signal.aborted) context()?.settle(id, outcome, text);
    };
    if (name === "timer") {
      // Guest timers sleep here, in the sandbox process: [milliseconds].
      const ms = Number((JSON.parse(argsJson) as unknown[])[0]) || 0;
      void sleepFor(ms, signal).then(() => answer("ok", ""));
      return;
    }
    void answerHostCall(request.onHostCall, name, argsJson, signal, limits.maxValueBytes).then((reply) =>
      answer(reply.outcome, reply.text),
    );
  };
  let status: GuestStatus = { dead: undefined, instructions: 0, offHeapBytes: 0 };
  let outcome: { ok: true; json: string } | { ok: false; error: WardenError };
  try {
    const control: RunControl = {
      cpuStartNs: Number(cpuStart),
      elapsedMs: () => watchdog.elapsedMs(),
      tripped: (trip) => {
        killed = trip;
        if (trip.kind === "cpu") lastCpuMs = trip.observed;
        watchdog.stop();
      },
      poll: () => watchdog.poll(),
    };
    const finished = await sandbox.whileAlive(
      body(
        { onConsole: request.onConsole, onWarning: warn, request: hostRequest, spend: (ms) => (hostMs += ms) },
        control,
      ),
    );
    const parsed = parseFinish(finished);
    status = parsed.status;
    outcome = status.dead ? { ok: false, error: limitFromStatus(status.dead) } : { ok: true, json: parsed.json };
    if (outcome.ok && (aborted || killed || watchdog.tripped)) {
      // The abort or the watchdog disposed the isolate while the guest's answer was already on its
      // way to this thread: the run ends as they say (below). Reported as a success, a warm
      // instance would look alive to the host, which would send its next call to an isolate that
      // is gone.
      throw new Error("the isolate was disposed as the run's answer arrived");
    }
  } catch (error) {
    outcome = {
      ok: false,
      error: aborted
        ? new AbortedError("the run was aborted", { cause: request.signal?.reason })
        : await explain(
            { error, sandbox, context: context(), trip: killed ?? watchdog.tripped, request },
            (s) => (status = s),
          ),
    };
  } finally {
    calls?.abort(RUN_ENDED);
    watchdog.stop();
    request.signal?.removeEventListener("abort", onAbort);
  }
  const usage: Usage = {
    wallMs: watchdog.elapsedMs(),
    cpuMs: sandbox.alive ? cpuMs() : lastCpuMs,
    instructions: status.instructions,
    peakMemoryBytes: 0,
  };
  if (sandbox.alive) {
    try {
      const heap = await heapInUse(sandbox);
      // Resizable ArrayBuffers live outside the heap the isolate measures; the prelude counts them
      // against the limit as they grow (the heap figure can hold garbage, so the two are not summed
      // for the check) and reports their peak.
      usage.peakMemoryBytes = heap + status.offHeapBytes;
      const over = !sandbox.alive || heap > sandbox.memoryMb * 2 ** 20;
      if (limits.memoryBytes > 0 && over && outcome.ok) {
        // V8 raised the heap limit for one big allocation (near-heap-limit callback) and no
        // garbage collection came after it to stop the run: the run did exceed its memory.
        outcome = {
          ok: false,
          error: new LimitExceededError({ kind: "memory", limit: limits.memoryBytes, observed: usage.peakMemoryBytes }),
        };
        sandbox.dispose();
      } else if (
        limits.memoryBytes > 0 &&
        limits.warnAt > 0 &&
        usage.peakMemoryBytes >= limits.memoryBytes * limits.warnAt
      ) {
        warn("memory", usage.peakMemoryBytes / limits.memoryBytes);
      }
    } catch {
      // The isolate died while reading statistics; its owner replaces it.
    }
  }
  return outcome.ok ? { ok: true, json: outcome.json, usage } : { ok: false, error: outcome.error, usage };
}

/** What a failed run left behind, for {@link explain}. */
interface FailedRun {
  /** What the run threw. */
  error: unknown;
  sandbox: IsolateSandbox;
  /** The run's context, if it got one. */
  context: PreparedContext | undefined;
  /** The budget the watchdog enforced, if it did. */
  trip: WatchdogTrip | undefined;
  request: SupervisedRequest;
}

/**
 * Turns a failed run into the right typed error, in the order both engines share
 * ({@link explainFailure}); a dead isolate is read before the prelude's status, which it
 * can no longer give.
 */
async function explain(failed: FailedRun, setStatus: (status: GuestStatus) => void): Promise<WardenError> {
  const { error, sandbox, context, trip, request } = failed;
  const { limits } = request;
  if (trip) return new LimitExceededError(trip);
  // With no memory limit configured, the isolate's own ceiling is the limit that was hit.
  const memoryError = () =>
    new LimitExceededError({
      kind: "memory",
      limit: limits.memoryBytes > 0 ? limits.memoryBytes : isolateMemoryMb(-1) * 2 ** 20,
    });
  if (sandbox.failedCatastrophically) return memoryError();
  if (sandbox.isolate.isDisposed || !sandbox.alive) {
    // isolated-vm disposes an isolate that outgrows its heap limit.
    sandbox.dispose();
    if (limits.memoryBytes > 0 || /memory limit/i.test(String((error as Error)?.message))) return memoryError();
    return new EngineError(`the isolate died: ${String((error as Error)?.message ?? error)}`, { cause: error });
  }
  let status: GuestStatus | undefined;
  if (context) {
    try {
      status = parseStatus((await context.status.apply(undefined, [], { result: { copy: true } })) as string);
      setStatus(status);
    } catch {
      // Reading the status failed: classify the original error.
    }
  }
  return explainFailure({ status }, () => classifyGuestError(rawGuestError(error), request.prepared, limits));
}

/**
 * The isolate's heap in use plus its ArrayBuffers, in bytes. Garbage that earlier runs left in
 * this isolate is in that figure until V8 collects it, so a figure over the isolate's limit is
 * taken again after a full collection: isolated-vm checks the heap after every compilation, and
 * when it is over the limit collects all garbage, then disposes the isolate if it is still over.
 */
async function heapInUse(sandbox: IsolateSandbox): Promise<number> {
  // Synchronous: the run is over, so the isolate is idle and answers at once (~2 µs); the
  // asynchronous form queues a task on the isolate's thread and costs a thread round trip (~55 µs
  // measured), a sizeable part of a warm call.
  const read = () => {
    const heap = sandbox.isolate.getHeapStatisticsSync();
    return heap.used_heap_size + heap.externally_allocated_size;
  };
  const first = await read();
  if (first <= sandbox.memoryMb * 2 ** 20) return first;
  try {
    (await sandbox.isolate.compileScript("0")).release();
  } catch {
    return first; // disposed: still over its limit after the collection
  }
  return sandbox.alive ? read() : first;
}
