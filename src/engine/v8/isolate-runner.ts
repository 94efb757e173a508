import { availableParallelism } from "node:os";
import { names, type PreparedSource } from "../../transform/index.js";
import type ivm from "isolated-vm";
import { AbortedError, EngineError, LimitExceededError, type WardenError } from "../../errors/index.js";
import { GuestCode } from "../codegen.js";
import { warnOncePerBudget, type EngineRunOutcome, type EngineRunRequest, type Usage } from "../contract.js";
import {
  classifyGuestError,
  explainFailure,
  limitFromStatus,
  parseFinish,
  parseStatus,
  type GuestStatus,
} from "../outcome.js";
import { preludeRunConfig } from "../prelude.js";
import { Watchdog, type WatchdogTrip } from "../watchdog.js";
import { IsolateSandbox, isolateMemoryMb, type PreparedContext } from "./sandbox.js";

const { RUN_CONFIG } = names;

/** Options of the in-process isolate engine. */
export interface IsolateRunnerOptions {
  /**
   * Idle isolates kept per memory limit, ready for the next run (besides one spare).
   * @default the number of CPUs
   */
  idleIsolates?: number;
}

const NO_SNAPSHOT = "--no-node-snapshot";

/** Throws a clear error when Node was started without --no-node-snapshot (isolated-vm may crash the process without it). */
function assertNodeFlags(): void {
  const major = Number(process.versions.node.split(".")[0]);
  const flagged =
    process.execArgv.includes(NO_SNAPSHOT) || (process.env["NODE_OPTIONS"] ?? "").split(/\s+/).includes(NO_SNAPSHOT);
  if (major >= 20 && !flagged) {
    throw new EngineError(
      `the v8 engine needs Node started with ${NO_SNAPSHOT} (e.g. NODE_OPTIONS=${NO_SNAPSHOT}); ` +
        `without it isolated-vm can crash the host process. Use engine "quickjs" otherwise.`,
    );
  }
}

/** A run with its source already prepared (by the sandbox process, `child.ts`). */
export interface PreparedRunRequest extends EngineRunRequest {
  prepared: PreparedSource;
}

/** What a failed run left behind, for {@link IsolateRunner.explain}. */
interface FailedRun {
  /** What the run threw. */
  error: unknown;
  sandbox: IsolateSandbox;
  /** The run's context, if it got one. */
  context: PreparedContext | undefined;
  /** The budget the watchdog enforced, if it did. */
  trip: WatchdogTrip | undefined;
  request: PreparedRunRequest;
}

/** Reads a guest error that isolated-vm copied to the host. */
function rawGuestError(error: unknown): { name: string; message: string; stack: string } {
  if (error instanceof Error) return { name: error.name, message: error.message, stack: error.stack ?? "" };
  return { name: "Error", message: `uncaught ${typeof error}: ${String(error)}`, stack: "" };
}

/**
 * Runs guests on V8 isolates through isolated-vm, in the current process: the
 * inside of a sandbox process (`child.ts`). It is not an engine of its own; the
 * engine is `V8Engine` (`engine.ts`), in the host, which sends it runs.
 * Each run leases one isolate (so disposing it to stop a runaway guest affects
 * no one else) and a fresh context from it.
 * Wall-clock and CPU budgets are enforced by a host-side watchdog for the
 * whole async life of the run; memory by the isolate's heap limit; fuel,
 * depth and terminal catch/finally by the instrumented source.
 */
export class IsolateRunner {
  private readonly idleIsolates: number;
  private readonly idle = new Map<number, IsolateSandbox[]>();
  private readonly leased = new Set<IsolateSandbox>();
  private closed = false;

  constructor(options: IsolateRunnerOptions = {}) {
    assertNodeFlags();
    this.idleIsolates = options.idleIsolates ?? availableParallelism();
  }

  private lease(memoryBytes: number): IsolateSandbox {
    const memoryMb = isolateMemoryMb(memoryBytes);
    const list = this.idle.get(memoryMb) ?? [];
    this.idle.set(memoryMb, list);
    // The isolate idle longest: it has had the most time to prepare its next context
    // (back to back, the one just given back is often still preparing; measured p50 of a
    // sequential `1+1`: about 2.0 ms taking the newest, 1.3 ms taking the oldest).
    let sandbox = list.shift();
    while (sandbox && !sandbox.alive) sandbox = list.shift();
    sandbox ??= new IsolateSandbox(memoryMb);
    this.leased.add(sandbox);
    // Keep one isolate ready for the next run, so that a run never waits for isolate creation.
    if (list.length === 0 && !this.closed) list.push(new IsolateSandbox(memoryMb));
    return sandbox;
  }

  private giveBack(sandbox: IsolateSandbox): void {
    this.leased.delete(sandbox);
    const list = this.idle.get(sandbox.memoryMb) ?? [];
    // idleIsolates warm isolates plus the one spare kept by lease().
    if (this.closed || !sandbox.alive || list.length > this.idleIsolates) {
      sandbox.dispose();
      return;
    }
    sandbox.warm();
    list.push(sandbox);
    this.idle.set(sandbox.memoryMb, list);
  }

  async run(request: PreparedRunRequest): Promise<EngineRunOutcome> {
    if (this.closed) throw new EngineError("the v8 engine is closed");
    const { limits } = request;
    const sandbox = this.lease(limits.memoryBytes);
    const cpuStart = sandbox.isolate.cpuTime;
    const cpuMs = () => (sandbox.isolate.isDisposed ? 0 : Number(sandbox.isolate.cpuTime - cpuStart) / 1e6);
    let lastCpuMs = 0;
    let context: PreparedContext | undefined;
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
    let status: GuestStatus = { dead: undefined, instructions: 0, offHeapBytes: 0 };
    let outcome: { ok: true; json: string } | { ok: false; error: WardenError };
    try {
      context = await sandbox.takeContext();
      context.sink = { onConsole: request.onConsole, onWarning: warn, code: new GuestCode(() => request.prepared) };
      await context.context.global.set(RUN_CONFIG, preludeRunConfig(limits, request.inputJson));
      const finished = await Promise.race([this.execute(sandbox, context, request), sandbox.lost]);
      const parsed = parseFinish(finished);
      status = parsed.status;
      outcome = status.dead ? { ok: false, error: limitFromStatus(status.dead) } : { ok: true, json: parsed.json };
    } catch (error) {
      outcome = {
        ok: false,
        error: aborted
          ? new AbortedError("the run was aborted", { cause: request.signal?.reason })
          : await this.explain(
              { error, sandbox, context, trip: killed ?? watchdog.tripped, request },
              (s) => (status = s),
            ),
      };
    } finally {
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
        const heap = await this.heapInUse(sandbox);
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
            error: new LimitExceededError({
              kind: "memory",
              limit: limits.memoryBytes,
              observed: usage.peakMemoryBytes,
            }),
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
        // The isolate died while reading statistics; it is replaced below.
      }
    }
    sandbox.bury(context);
    try {
      if (!sandbox.failedCatastrophically) context?.release();
    } catch {
      // Releasing handles of a disposed isolate can throw; nothing is left to free.
    }
    this.giveBack(sandbox);
    return outcome.ok ? { ok: true, json: outcome.json, usage } : { ok: false, error: outcome.error, usage };
  }

  /**
   * The isolate's heap in use plus its ArrayBuffers, in bytes. Garbage that earlier runs left in
   * this isolate is in that figure until V8 collects it, so a figure over the isolate's limit is
   * taken again after a full collection: isolated-vm checks the heap after every compilation, and
   * when it is over the limit collects all garbage, then disposes the isolate if it is still over.
   */
  private async heapInUse(sandbox: IsolateSandbox): Promise<number> {
    const read = async () => {
      const heap = await sandbox.isolate.getHeapStatistics();
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

  private async execute(
    sandbox: IsolateSandbox,
    context: PreparedContext,
    request: PreparedRunRequest,
  ): Promise<string> {
    const { prepared } = request;
    const copyPromise = { result: { promise: true, copy: true } } as const;
    if (prepared.kind === "script") {
      const script = await sandbox.compile(prepared.key, prepared.code, prepared.filename);
      if (prepared.finishesItself) return (await script.run(context.context, { promise: true, copy: true })) as string;
      const completion = (await script.run(context.context, { reference: true })) as ivm.Reference<unknown>;
      try {
        return (await context.finishScript.apply(undefined, [completion.derefInto()], copyPromise)) as string;
      } finally {
        completion.release();
      }
    }
    const module = await sandbox.isolate.compileModule(prepared.code, { filename: prepared.filename });
    try {
      await module.instantiate(context.context, (specifier) => {
        throw new Error(`import of "${specifier}" is not available in the sandbox`);
      });
      await module.evaluate({ promise: true } as never);
      return (await context.finishModule.apply(undefined, [module.namespace.derefInto()], copyPromise)) as string;
    } finally {
      module.release();
    }
  }

  /**
   * Turns a failed run into the right typed error, in the order both engines share
   * ({@link explainFailure}); a dead isolate is read before the prelude's status, which it
   * can no longer give.
   */
  private async explain(failed: FailedRun, setStatus: (status: GuestStatus) => void): Promise<WardenError> {
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

  async close(): Promise<void> {
    this.closed = true;
    for (const list of this.idle.values()) for (const sandbox of list) sandbox.dispose();
    this.idle.clear();
    for (const sandbox of this.leased) sandbox.dispose();
    this.leased.clear();
  }
}
