import { availableParallelism } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { AbortedError, EngineError, LimitExceededError, isWardenError, type WardenError } from "../../errors/index.js";
import {
  emptyUsage,
  leavesInstanceInDoubt,
  resolvePoolSize,
  warnOncePerBudget,
  type Engine,
  type EngineOptions,
  type EngineRunOutcome,
  type EngineRunRequest,
  type EngineInstance,
  type EngineLoadOutcome,
  type EngineLoadRequest,
  type InstanceCallRequest,
  type RunReporter,
  type Usage,
  type WarningBudget,
} from "../contract.js";
import type { LimitValues } from "../../limits/index.js";
import { outcomeFromWire } from "../protocol.js";
import { Watchdog, type WatchdogTrip } from "../watchdog.js";
import { compileQuickJS } from "./heap.js";
import { WorkerPool } from "./pool.js";
import { QuickJSWorker, type WorkerOutcome, type WorkerRequest } from "./worker-handle.js";

/** Options of the QuickJS engine. */
export interface QuickJSEngineOptions extends EngineOptions {
  /**
   * V8 stack of each worker thread, in MiB. QuickJS's C stack is checked by
   * QuickJS itself; this stack must hold the WebAssembly frames of the
   * deepest recursion QuickJS allows. A host-side stack overflow is still
   * survived (the module instance is replaced and the run gets the recursion error).
   * @default 256
   */
  workerStackMb?: number;
}

/**
 * QuickJS's own stack limit. QuickJS measures its C stack, which this build
 * keeps in linear memory (5 MiB); 4 MiB fits 10,000 instrumented guest calls
 * with room to spare, and leaves a margin for C code between two checks.
 */
export const QUICKJS_STACK_BYTES = 4 * 1024 * 1024;
/**
 * V8 stack of each worker thread. Every C frame of QuickJS is also a
 * WebAssembly frame on this stack, whose size is unrelated to the C stack
 * QuickJS checks; it must hold the deepest recursion QuickJS allows on any
 * path (interpreter, native callbacks, parser), with a wide margin.
 */
export const WORKER_STACK_MB = 256;
/**
 * The main thread stops a worker that has not answered this long after a
 * budget ran out (the worker's interrupt handler normally stops the guest at
 * the budget itself, but QuickJS cannot interrupt one long native call).
 */
export const BACKSTOP_GRACE_MS = 100;

/** Who gets a worker back after a message: the pool for runs, the instance for warm calls. */
interface WorkerOwner {
  release(worker: QuickJSWorker): void;
  discard(worker: QuickJSWorker): void;
}

const backstop = (budget: number) => (budget > 0 ? budget + BACKSTOP_GRACE_MS : budget);

const aborted = (signal: AbortSignal | undefined) => new AbortedError("the run was aborted", { cause: signal?.reason });

/**
 * QuickJS (WebAssembly, through quickjs-emscripten) in worker threads. Each
 * run gets a fresh runtime and context in one worker of a pool, so guest code
 * never blocks the host's event loop. Wall-clock and CPU budgets are enforced
 * by QuickJS's interrupt handler inside the worker, with a main-thread
 * watchdog that terminates a worker stuck in one long native call; memory by
 * a metered WebAssembly heap (see `heap.ts`); fuel, depth and terminal
 * catch/finally by the instrumented source and the shared prelude.
 */
export class QuickJSEngine implements Engine {
  readonly name = "quickjs" as const;
  private readonly pool: WorkerPool;
  private readonly spawnWorker: () => QuickJSWorker;
  private closed = false;

  private constructor(options: QuickJSEngineOptions, wasmModule: object) {
    const size = resolvePoolSize("quickjs", options.poolSize, availableParallelism());
    const stackSizeMb = options.workerStackMb ?? WORKER_STACK_MB;
    this.spawnWorker = () => new QuickJSWorker({ stackSizeMb, maxStackBytes: QUICKJS_STACK_BYTES, wasmModule });
    this.pool = new WorkerPool(size, this.spawnWorker);
  }

  /** Creates the engine and starts its first worker, so that a broken installation fails here. */
  static async create(options: QuickJSEngineOptions = {}): Promise<QuickJSEngine> {
    resolvePoolSize("quickjs", options.poolSize, availableParallelism());
    const stack = options.workerStackMb ?? WORKER_STACK_MB;
    if (!Number.isInteger(stack) || stack < 4) {
      throw new RangeError(`workerStackMb must be an integer of at least 4, got ${String(stack)} (${typeof stack})`);
    }
    let wasmModule: object;
    // A pending WebAssembly compilation does not keep Node's event loop alive; this timer does.
    const keepAlive = setInterval(() => {}, 60_000);
    try {
      wasmModule = await compileQuickJS();
    } catch (error) {
      throw new EngineError(`the quickjs engine could not load QuickJS: ${(error as Error).message}`, { cause: error });
    } finally {
      clearInterval(keepAlive);
    }
    const engine = new QuickJSEngine(options, wasmModule);
    try {
      await engine.pool.prewarm(1);
    } catch (error) {
      await engine.close();
      throw new EngineError(`the quickjs engine could not start: ${(error as Error).message}`, { cause: error });
    }
    return engine;
  }

  /** Starts workers until `count` are running (at most the pool size). */
  async prewarm(count = 1): Promise<void> {
    await this.pool.prewarm(count);
  }

  async run(request: EngineRunRequest): Promise<EngineRunOutcome> {
    if (this.closed) throw new EngineError("the quickjs engine is closed");
    // A worker that fails for good between two runs loses the run it was just handed, before
    // starting it: that run goes to another worker.
    for (let attempt = 1; ; attempt++) {
      const outcome = await this.runOnce(request, attempt === 3);
      if (outcome !== "lost") return outcome;
    }
  }

  private async runOnce(request: EngineRunRequest, lastAttempt: boolean): Promise<EngineRunOutcome | "lost"> {
    const { source, filename, limits, inputJson, signal } = request;
    let worker: QuickJSWorker | "aborted";
    try {
      worker = request.nested ? await this.acquireNested() : await this.acquire(signal);
    } catch (error) {
      const failure = isWardenError(error) ? error : new EngineError(String(error), { cause: error });
      return { ok: false, error: failure, usage: emptyUsage() };
    }
    if (worker === "aborted") return { ok: false, error: aborted(signal), usage: emptyUsage() };
    const owner = this.extraWorkers.has(worker) ? this.instanceOwner : this.pool;
    return this.supervise(worker, request, { type: "run", source, filename, limits, inputJson }, owner, lastAttempt);
  }

  /**
   * A worker for a spawned task: an idle one of the pool if there is one, else a worker of its
   * own beyond the pool's size (its parent's worker waits for it), ended after the task.
   */
  private async acquireNested(): Promise<QuickJSWorker> {
    const idle = this.pool.tryAcquire();
    if (idle) return idle;
    const worker = this.spawnWorker();
    this.instanceWorkers.add(worker);
    this.extraWorkers.add(worker);
    await worker.ready;
    return worker;
  }

  /** Workers started beyond the pool for spawned tasks (see {@link acquireNested}). */
  private readonly extraWorkers = new Set<QuickJSWorker>();

  /**
   * Sends a worker a message that runs guest code and waits for its answer, under a backstop
   * watchdog: the worker enforces the budgets itself; the watchdog only ends a worker stuck in
   * one long native call, a grace period past a budget. `owner` gets the worker back (released
   * when it answered, discarded when it was killed or lost). "lost": the worker failed before it
   * started, and the run may go to another.
   */
  private async supervise(
    worker: QuickJSWorker,
    request: RunReporter & { limits: LimitValues; signal?: AbortSignal | undefined },
    message: WorkerRequest,
    owner: WorkerOwner,
    lastAttempt = true,
  ): Promise<EngineRunOutcome | "lost"> {
    const { limits, signal } = request;
    // Aborted while it waited for its worker (a spawned task whose parent ended while a worker
    // started for it): an abort listener added now would never fire, so the run must not start.
    if (signal?.aborted) {
      owner.release(worker);
      return { ok: false, error: aborted(signal), usage: emptyUsage() };
    }
    const warn = warnOncePerBudget(request.onWarning);
    const running = worker.submit(message, {
      onConsole: request.onConsole,
      onWarning: warn,
      onHostCall: request.onHostCall,
    });
    let killed: WatchdogTrip | undefined;
    const watchdog = new Watchdog(
      { ...limits, timeoutMs: backstop(limits.timeoutMs), cpuTimeMs: backstop(limits.cpuTimeMs), warnAt: 0 },
      {
        cpuMs: () => worker.cpuBoundMs(),
        kill: (trip) => {
          killed = {
            kind: trip.kind,
            limit: trip.kind === "timeout" ? limits.timeoutMs : limits.cpuTimeMs,
            observed: trip.observed,
          };
          owner.discard(worker);
        },
        warn: () => {},
      },
    );
    // An abort asks the worker to stop the guest; a worker stuck in one native call is
    // terminated after the backstop's grace.
    let abortTimer: NodeJS.Timeout | undefined;
    const onAbort = () => {
      watchdog.stop();
      worker.abort();
      abortTimer = setTimeout(() => owner.discard(worker), BACKSTOP_GRACE_MS);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    let answer: WorkerOutcome;
    try {
      answer = await running;
    } finally {
      watchdog.stop();
      signal?.removeEventListener("abort", onAbort);
      if (abortTimer) clearTimeout(abortTimer);
    }
    const wallMs = watchdog.elapsedMs();
    if (answer.type === "done" || answer.type === "stalled") owner.release(worker);
    else if (answer.type === "lost" && !lastAttempt && !this.closed) {
      owner.discard(worker);
      return "lost";
    } else owner.discard(worker);
    if (signal?.aborted) {
      const usage =
        answer.type === "done"
          ? answer.outcome.usage
          : answer.type === "stalled"
            ? answer.usage
            : { ...emptyUsage(), wallMs };
      return { ok: false, error: aborted(signal), usage };
    }
    if (killed) {
      const cpuMs = killed.kind === "cpu" ? killed.observed : Math.min(worker.cpuBoundMs(), wallMs);
      return { ok: false, error: new LimitExceededError(killed), usage: { ...emptyUsage(), wallMs, cpuMs } };
    }
    if (answer.type === "stalled") return this.waitOutStall(request, watchdog, answer.usage, warn);
    if (answer.type !== "done")
      return { ok: false, error: this.explainLoss(answer), usage: { ...emptyUsage(), wallMs } };
    return outcomeFromWire(answer.outcome);
  }

  /**
   * Loads a module into a worker of its own (a warm instance owns its worker's QuickJS module
   * and heap for its whole life: its memory is the worker's). The worker is started for the
   * load and ended with the instance.
   */
  async load(request: EngineLoadRequest): Promise<EngineLoadOutcome> {
    if (this.closed) throw new EngineError("the quickjs engine is closed");
    const worker = this.spawnWorker();
    this.instanceWorkers.add(worker);
    const owner = this.instanceOwner;
    try {
      await worker.ready;
    } catch (error) {
      owner.discard(worker);
      return {
        ok: false,
        error: new EngineError(`the quickjs engine could not start a worker: ${(error as Error).message}`),
        usage: emptyUsage(),
      };
    }
    const { source, filename, limits } = request;
    const outcome = await this.supervise(worker, request, { type: "load", source, filename, limits }, owner);
    if (outcome === "lost" || !outcome.ok || !worker.alive) {
      owner.discard(worker);
      return outcome === "lost"
        ? { ok: false, error: new EngineError("the QuickJS worker failed while loading"), usage: emptyUsage() }
        : outcome.ok
          ? { ok: false, error: new EngineError("the QuickJS worker was lost while loading"), usage: outcome.usage }
          : outcome;
    }
    const instance = new QuickJSInstance(worker, owner, (call) => {
      const { kind, inputJson, limits } = call;
      return this.supervise(worker, call, { type: "call", instance: 0, kind, inputJson, limits }, owner);
    });
    return { ok: true, instance, usage: outcome.usage };
  }

  /** Workers of warm instances, each owned by its instance (ended with it, or with the engine). */
  private readonly instanceWorkers = new Set<QuickJSWorker>();
  private readonly instanceOwner: WorkerOwner = {
    // An extra worker (a spawned task's) ends with its task; an instance's stays with the instance.
    release: (worker) => {
      if (this.extraWorkers.has(worker)) this.instanceOwner.discard(worker);
    },
    discard: (worker) => {
      this.extraWorkers.delete(worker);
      this.instanceWorkers.delete(worker);
      void worker.terminate().catch(() => {});
    },
  };

  /**
   * The result waits on a promise that nothing can settle. On V8 such a run ends at its
   * wall-clock budget; it does here too (with the timeout warning on the way), but the worker
   * is free in the meantime.
   */
  private async waitOutStall(
    request: { limits: LimitValues; signal?: AbortSignal | undefined },
    watchdog: Watchdog,
    usage: Usage,
    warn: (budget: WarningBudget, fraction: number) => void,
  ): Promise<EngineRunOutcome> {
    const { limits, signal } = request;
    try {
      if (limits.warnAt > 0) {
        await sleep(Math.max(0, limits.timeoutMs * limits.warnAt - watchdog.elapsedMs()), undefined, { signal });
        warn("timeout", watchdog.elapsedMs() / limits.timeoutMs);
      }
      await sleep(Math.max(0, limits.timeoutMs - watchdog.elapsedMs()), undefined, { signal });
    } catch {
      return { ok: false, error: aborted(signal), usage: { ...usage, wallMs: watchdog.elapsedMs() } };
    }
    const observed = Math.round(watchdog.elapsedMs());
    return {
      ok: false,
      error: new LimitExceededError({ kind: "timeout", limit: limits.timeoutMs, observed }),
      usage: { ...usage, wallMs: observed },
    };
  }

  /** Takes a worker for a run; an abort while the run waits for one gives up the wait. */
  private async acquire(signal: AbortSignal | undefined): Promise<QuickJSWorker | "aborted"> {
    if (signal?.aborted) return "aborted";
    const acquiring = this.pool.acquire();
    if (!signal) return acquiring;
    let onAbort: () => void = () => {};
    const abortedWait = new Promise<"aborted">((resolve) => {
      onAbort = () => resolve("aborted");
      signal.addEventListener("abort", onAbort, { once: true });
    });
    try {
      const first = await Promise.race([acquiring, abortedWait]);
      // The worker that comes later goes straight back to the pool.
      if (first === "aborted")
        acquiring.then(
          (worker) => this.pool.release(worker),
          () => {},
        );
      return first;
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
  }

  /** The worker is gone: it failed for good, or it was terminated. */
  private explainLoss(outcome: Exclude<WorkerOutcome, { type: "done" | "stalled" }>): WardenError {
    if (this.closed) return new EngineError("the quickjs engine was closed while the run was in flight");
    if (outcome.type === "fatal") {
      return new EngineError(`the QuickJS worker failed (${outcome.name}: ${outcome.message}); it was replaced`);
    }
    if (outcome.type === "lost") return new EngineError("the QuickJS workers keep failing");
    return new EngineError(`the QuickJS worker stopped (${outcome.reason}); it was replaced`);
  }

  async close(): Promise<void> {
    this.closed = true;
    const instances = [...this.instanceWorkers];
    this.instanceWorkers.clear();
    await Promise.all([this.pool.close(), ...instances.map((worker) => worker.terminate().catch(() => {}))]);
  }
}

/** A warm instance on a QuickJS worker of its own; ending the instance ends the worker. */
class QuickJSInstance implements EngineInstance {
  private failed = false;

  constructor(
    private readonly worker: QuickJSWorker,
    private readonly owner: WorkerOwner,
    private readonly send: (call: InstanceCallRequest) => Promise<EngineRunOutcome | "lost">,
  ) {}

  get alive(): boolean {
    return !this.failed && this.worker.alive;
  }

  async call(call: InstanceCallRequest): Promise<EngineRunOutcome> {
    if (!this.alive) throw new EngineError("this warm instance was recycled or closed");
    const answer = await this.send(call);
    const result: EngineRunOutcome =
      answer === "lost"
        ? { ok: false, error: new EngineError("the QuickJS worker was lost"), usage: emptyUsage() }
        : answer;
    if (leavesInstanceInDoubt(result)) {
      this.failed = true;
      this.owner.discard(this.worker);
    }
    return result;
  }

  async close(): Promise<void> {
    this.failed = true;
    this.owner.discard(this.worker);
  }
}
