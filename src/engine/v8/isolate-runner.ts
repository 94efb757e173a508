import { availableParallelism } from "node:os";
import { names, type PreparedSource } from "../../transform/index.js";
import type ivm from "isolated-vm";
import { EngineError } from "../../errors/index.js";
import { GuestCode } from "../codegen.js";
import type { EngineRunOutcome, EngineRunRequest } from "../contract.js";
import { preludeRunConfig } from "../prelude.js";
import { IsolateSandbox, isolateMemoryMb, type PreparedContext } from "./sandbox.js";
import { superviseRun } from "./supervise.js";

const { RUN_CONFIG } = names;

/** Runs an isolate serves before it is replaced (creating one costs about 1 ms, off the hot path). */
const RUNS_PER_ISOLATE = 500;

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
    // An isolate that served many runs is replaced: what V8 and isolated-vm keep per isolate
    // (caches, handles of released contexts awaiting a collection) would otherwise grow the
    // process's memory run after run (measured: about 6-8 KB a run).
    sandbox.runs++;
    if (this.closed || !sandbox.alive || list.length > this.idleIsolates || sandbox.runs >= RUNS_PER_ISOLATE) {
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
    let context: PreparedContext | undefined;
    const outcome = await superviseRun(
      sandbox,
      request,
      async (reporter) => {
        context = await sandbox.takeContext();
        context.sink = { ...reporter, code: new GuestCode(() => request.prepared) };
        // Not awaited before the run's code is queued: isolated-vm runs an isolate's asynchronous
        // calls in the order they were queued, so the configuration is set first, and the run
        // saves a thread round trip. A failed set leaves the run without its configuration, which
        // then fails too; the set's own error is the one reported.
        const configured = context.context.global.set(RUN_CONFIG, preludeRunConfig(limits, request.inputJson));
        const executed = this.execute(sandbox, context, request);
        executed.catch(() => {});
        await configured;
        return executed;
      },
      () => context,
    );
    sandbox.bury(context);
    try {
      if (!sandbox.failedCatastrophically) context?.release();
    } catch {
      // Releasing handles of a disposed isolate can throw; nothing is left to free.
    }
    this.giveBack(sandbox);
    return outcome;
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

  async close(): Promise<void> {
    this.closed = true;
    for (const list of this.idle.values()) for (const sandbox of list) sandbox.dispose();
    this.idle.clear();
    for (const sandbox of this.leased) sandbox.dispose();
    this.leased.clear();
  }
}
