/**
 * The worker-side half of the QuickJS engine: a clean QuickJS runtime and
 * context per run (restored from a snapshot of a freshly prepared one), with
 * the shared prelude installed,
 * run synchronously under an interrupt handler that enforces the wall-clock
 * and CPU budgets, on a heap whose growth is metered by {@link QuickJSHeap}.
 */
import { names } from "../../transform/index.js";
import { receiveMessageOnPort, type MessagePort } from "node:worker_threads";
import { Scope, type QuickJSContext, type QuickJSHandle, type QuickJSRuntime } from "quickjs-emscripten";
import { GuestCode } from "../codegen.js";
import { platformHostFunction } from "../platform-host.js";
import type { ConsoleLevel, InstanceCallKind, WarningBudget } from "../contract.js";
import { PRELUDE_FILENAME, PRELUDE_SOURCE } from "../prelude.js";
import type { ThreadCpuClock } from "./cpu-clock.js";
import { cStackRange, QuickJSHeap, type HeapSnapshot } from "./heap.js";
import { captureLibraryState, findRandomState, type LibraryState } from "./snapshot.js";
import {
  CLOCK_CPU_MS,
  CLOCK_SAMPLED_AT,
  epochMs,
  type ControlBlock,
  type HostReply,
  type ReportedError,
  type ReportedTrip,
  type ReportedUsage,
  type RunEnding,
  type RunPlan,
} from "./protocol.js";

const { HOST_CALL, HOST_COMPILE, HOST_LOG, HOST_ORIGINAL, HOST_PLATFORM, HOST_WARN, RUN_CONFIG } = names;

/** How the worker side passes what the guest of a run says to the main thread (a {@link RunReporter} by run id). */
export interface WorkerReporter {
  log(id: number, level: ConsoleLevel, text: string): void;
  warn(id: number, budget: WarningBudget, fraction: number): void;
  /** A host call of run `id` for the main thread; its answer comes back on the reply port. */
  hostCall(id: number, call: number, name: string, args: string): void;
}

/**
 * Reads a thrown value inside the sandbox, with primitives only on the way
 * out: `[isError, name, message, stack]` as JSON. Getters of a guest error
 * still run guest code, under the run's budgets.
 */
const DESCRIBE_SOURCE = String.raw`(() => {
  "use strict";
  const ErrorCtor = Error;
  const StringCtor = String;
  const stringify = JSON.stringify;
  const read = (get) => {
    try {
      const value = get();
      return value === undefined || value === null ? "" : StringCtor(value);
    } catch {
      return "";
    }
  };
  return (error) => {
    let isError = false;
    try {
      isError = error instanceof ErrorCtor;
    } catch {}
    if (isError) return stringify([true, read(() => error.name), read(() => error.message), read(() => error.stack)]);
    return stringify([false, typeof error, read(() => error), ""]);
  };
})()`;

const NO_CODE = new GuestCode(() => undefined);

/** V8's default `Error.stackTraceLimit`; QuickJS keeps every frame, reports keep as many as V8 does. */
const STACK_FRAMES = 10;
/** Heap granted to the host's own reading of a result or error once the guest's budget is spent. */
const HOST_HEADROOM_BYTES = 1024 * 1024;
const NO_STATUS = "[null,0,0,0]";
/** The smallest limit handed to QuickJS's own allocator check. */
const QUICKJS_LIMIT_FLOOR_BYTES = 8 * 1024 * 1024;

/** One fresh runtime and context with the prelude installed, used by exactly one run. */
interface PreparedSandbox {
  readonly runtime: QuickJSRuntime;
  readonly context: QuickJSContext;
  readonly finishScript: QuickJSHandle;
  readonly finishModule: QuickJSHandle;
  readonly status: QuickJSHandle;
  /** The prelude's warm-instance load and call (see `prelude-warm.ts`). */
  readonly finishLoad: QuickJSHandle;
  readonly callInstance: QuickJSHandle;
  /** The prelude's answer to a host call (see `prelude-host.ts`). */
  readonly settleCall: QuickJSHandle;
  readonly describe: QuickJSHandle;
  /** Heap the sandbox holds before the guest runs (runtime, context, prelude), as QuickJS counts it. */
  readonly baselineBytes: number;
  /** Address of the context's `Math.random` state, when found (see {@link findRandomState}). */
  readonly randomState: number | undefined;
}

/** Seeds drawn from the system's random source in batches: one call per seed cost ~4 % of a fresh run. */
const seeds = new BigUint64Array(256);
let nextSeed = seeds.length;

/** A fresh non-zero 64-bit seed (QuickJS's xorshift state must not be zero). */
function randomSeed(): bigint {
  for (;;) {
    if (nextSeed === seeds.length) {
      crypto.getRandomValues(seeds);
      nextSeed = 0;
    }
    const seed = seeds[nextSeed++]!;
    if (seed !== 0n) return seed;
  }
}

/**
 * A warm instance: the sandbox its module was loaded in, which stays for the
 * worker's life (a worker that loads an instance serves only it), its module
 * namespace, and the heap the worker held before the load.
 */
interface Resident {
  readonly sandbox: PreparedSandbox;
  readonly namespace: QuickJSHandle;
  readonly startBytes: number;
}

/** What a worker does with a run plan: a fresh run, the load of a warm instance, or a call of it. */
export type SandboxWork =
  { type: "run" } | { type: "load" } | { type: "call"; kind: InstanceCallKind; inputJson: string };

/** Budgets and progress of the run in flight, read by the interrupt handler. */
class RunState {
  readonly startedAt = performance.now();
  readonly cpuStart: number;
  readonly startBytes: number;
  /** True once the run executed a promise job (the prelude's status is then read again at the end). */
  ranJobs = false;
  /** Host calls sent to the main thread and not yet answered. */
  readonly calls = new Set<number>();
  /** Guest timers' host sleeps: call id -> when it is due (performance.now()). */
  readonly timers = new Map<number, number>();
  /** Set once a budget tripped; the interrupt handler then stops the guest at every check. */
  trip: ReportedTrip | undefined;
  /**
   * Set once an allocation failed for want of heap budget. Out of memory is
   * terminal: the guest is stopped at the next interrupt check, nothing it
   * writes afterwards reaches the host, and the run ends in the memory error
   * whatever the guest made of the failure (QuickJS throws a catchable
   * InternalError, or even null when it cannot allocate the error itself).
   */
  oom = false;
  /** Set once the main thread asked to stop the guest. */
  aborted = false;
  /** False while the host itself calls into the sandbox after the guest was stopped. */
  armed = true;
  readonly warned = new Set<WarningBudget>();
  /** CPU ms used at the last sample, and when (performance.now()). */
  cpuUsed = 0;
  sampledAt: number;
  /** Wall time (performance.now()) at which the CPU used could first reach the next CPU threshold. */
  nextCpuCheckAt = Infinity;
  readonly wallDeadline: number;
  readonly wallWarnAt: number;

  constructor(
    readonly plan: RunPlan,
    cpuStart: number,
    heapBytes: number,
  ) {
    const { timeoutMs, warnAt } = plan;
    this.cpuStart = cpuStart;
    this.startBytes = heapBytes;
    this.sampledAt = this.startedAt;
    this.wallDeadline = timeoutMs > 0 ? this.startedAt + timeoutMs : Infinity;
    this.wallWarnAt = timeoutMs > 0 && warnAt > 0 ? this.startedAt + timeoutMs * warnAt : Infinity;
    this.scheduleCpuCheck();
  }

  /** The lowest CPU threshold not yet reached: the budget, or its warning. */
  private nextCpuThreshold(): number {
    const { cpuTimeMs, warnAt } = this.plan;
    if (cpuTimeMs <= 0) return Infinity;
    if (warnAt > 0 && !this.warned.has("cpu")) return cpuTimeMs * warnAt;
    return cpuTimeMs;
  }

  /** CPU time cannot grow faster than wall time: no need to read the clock before this. */
  scheduleCpuCheck(): void {
    this.nextCpuCheckAt = this.sampledAt + (this.nextCpuThreshold() - this.cpuUsed);
  }
}

/**
 * A prepared sandbox as it was before its first run: the module's memory and
 * the library's JS-side state, put back before every fresh run instead of
 * preparing a new sandbox (see {@link SandboxHost.afterRun}).
 */
interface Snapshot {
  readonly sandbox: PreparedSandbox;
  memory: HeapSnapshot;
  readonly library: LibraryState;
  /** Where in the context QuickJS keeps `Math.random`'s state, reseeded for every run. */
  readonly randomState: number;
}

/**
 * Runs guests in one worker thread. Each run gets a clean runtime and
 * context: the module instance prepares one (about 3 ms, most of it
 * compiling the prelude) and copies it ({@link Snapshot}); after every fresh
 * run the copy is put back over the module's memory while the worker is idle
 * (about 0.05 ms), instead of preparing a new one.
 */
export class SandboxHost {
  private heap: QuickJSHeap;
  private readonly wasmModule: object;
  private spare: PreparedSandbox | undefined;
  /** The heap's prepared sandbox as it was before its first run, when it could be copied. */
  private snapshot: Snapshot | undefined;
  /** The host side of the platform layer; made again for every run (its clock starts there). */
  private platform = platformHostFunction();
  private current: RunState | undefined;
  /** The last run's sandbox and handles, released after its result was sent. */
  private finished: { sandbox: PreparedSandbox; scope: Scope } | undefined;
  /** The handles of the last warm call, released after its result was sent. */
  private finishedScope: Scope | undefined;
  /** The warm instance this worker holds, once loaded. */
  private resident: Resident | undefined;
  /**
   * CPU clock reading taken when the worker last went idle. An idle thread
   * uses no CPU, so this stands for the next run's start and saves a clock
   * read on the way to the guest.
   */
  private idleCpu: number;
  private readonly interrupt = (): boolean => this.onInterrupt();
  /** Code generation for the run in flight; its program is prepared again only if the guest asks for a function's text. */
  private runCode: GuestCode | undefined;
  private code(): GuestCode {
    const state = this.current;
    if (!state) return NO_CODE;
    const { prepared } = state.plan;
    this.runCode ??= new GuestCode(() => prepared);
    return this.runCode;
  }

  private constructor(
    heap: QuickJSHeap,
    wasmModule: object,
    private readonly clock: ThreadCpuClock,
    private readonly control: ControlBlock,
    private readonly maxStackBytes: number,
    private readonly sink: WorkerReporter,
    private readonly replies: MessagePort,
    private readonly stack: readonly [number, number] | undefined,
  ) {
    this.heap = heap;
    this.wasmModule = wasmModule;
    this.idleCpu = clock.now();
    this.watchHeap();
  }

  /** Instantiates the compiled QuickJS module and prepares the first sandbox. */
  static async create(
    wasmModule: object,
    clock: ThreadCpuClock,
    control: ControlBlock,
    maxStackBytes: number,
    sink: WorkerReporter,
    replies: MessagePort,
  ): Promise<SandboxHost> {
    const [heap, stack] = await Promise.all([QuickJSHeap.create(wasmModule), cStackRange()]);
    const host = new SandboxHost(heap, wasmModule, clock, control, maxStackBytes, sink, replies, stack);
    host.prepareSpare();
    return host;
  }

  private watchHeap(): void {
    this.heap.onRefuse = () => {
      if (this.current) this.current.oom = true;
    };
    this.heap.onGrow = (bytes) => {
      const state = this.current;
      if (!state || !state.plan.memoryConfigured) return;
      const { memoryBytes, warnAt } = state.plan;
      const grown = bytes - state.startBytes;
      if (warnAt > 0 && grown >= memoryBytes * warnAt) this.warn(state, "memory", grown / memoryBytes);
    };
  }

  /**
   * Runs one guest to its end: a fresh run, the load of a warm instance (whose sandbox then
   * stays, see {@link Resident}), or a call of the loaded instance. Throws only when the host
   * side failed (the module may be damaged). Call {@link afterRun} once the result is sent.
   */
  run(plan: RunPlan, work: SandboxWork = { type: "run" }): { result: RunEnding; usage: ReportedUsage } {
    const resident = this.resident;
    let sandbox: PreparedSandbox;
    if (work.type === "call") {
      if (!resident) throw new Error("no warm instance is loaded in this worker");
      sandbox = resident.sandbox;
    } else {
      // A sandbox prepared here is not the copied one: the copy is given up.
      if (!this.spare) this.snapshot = undefined;
      sandbox = this.spare ?? this.prepare();
      this.spare = undefined;
    }
    // A warm call reads the clock: the worker may have done other work since it last went idle
    // (the load's clean-up, a garbage collection), which is not the call's.
    const cpuStart = this.clock.precise && work.type !== "call" ? this.idleCpu : this.clock.now();
    const state = new RunState(plan, cpuStart, this.heap.bytes);
    this.control.clock[CLOCK_SAMPLED_AT] = epochMs();
    this.control.clock[CLOCK_CPU_MS] = 0;
    const scope = new Scope();
    let result: RunEnding;
    let usage: ReportedUsage;
    this.current = state;
    try {
      // QuickJS's own limit only refuses single allocations larger than it (see QuickJSHeap); below
      // a floor it would also refuse the host's own small allocations for the run.
      sandbox.runtime.setMemoryLimit(
        plan.memoryConfigured ? Math.max(plan.memoryBytes, QUICKJS_LIMIT_FLOOR_BYTES) : -1,
      );
      // A warm instance's memory is its whole life's: a call has what earlier ones left.
      const used = resident ? this.heap.bytes - resident.startBytes : 0;
      this.heap.openBudget(Math.max(0, plan.memoryBytes - used));
      if (work.type === "call") result = this.executeCall(sandbox, state, scope, work, resident!.namespace);
      else if (work.type === "load") result = this.executeLoad(sandbox, state, scope);
      else result = this.execute(sandbox, state, scope);
      usage = this.measure(sandbox, state);
      if (resident) usage.peakMemoryBytes = sandbox.baselineBytes + Math.max(0, this.heap.bytes - resident.startBytes);
    } finally {
      this.current = undefined;
      this.runCode = undefined;
      this.heap.lift();
      if (work.type === "run" || (work.type === "load" && !this.resident)) this.finished = { sandbox, scope };
      else this.finishedScope = scope;
    }
    return { result, usage };
  }

  /** Evaluates a warm instance's module and keeps its sandbox and namespace as the worker's resident instance. */
  private executeLoad(sandbox: PreparedSandbox, state: RunState, scope: Scope): RunEnding {
    const { context: ctx } = sandbox;
    const { prepared, config } = state.plan;
    const startBytes = state.startBytes;
    ctx.newString(config).consume((text) => ctx.setProp(ctx.global, RUN_CONFIG, text));
    const evaluated = ctx.evalCode(prepared.code, prepared.filename, { type: "module" });
    if (evaluated.error) return this.failure(sandbox, state, scope.manage(evaluated.error));
    // A module with top-level await evaluates to a promise of its namespace.
    const namespace = this.awaitPromise(sandbox, state, scope.manage(evaluated.value), scope);
    if ("ending" in namespace) return namespace;
    const called = ctx.callFunction(sandbox.finishLoad, ctx.undefined, namespace.value);
    if (called.error) return this.failure(sandbox, state, scope.manage(called.error));
    const ending = this.settle(sandbox, state, scope, scope.manage(called.value));
    if (ending.ending === "finished") {
      this.resident = { sandbox, namespace: namespace.value.dup(), startBytes };
      // The sandbox stays the instance's: no fresh run will start from the copy again.
      this.snapshot = undefined;
    }
    return ending;
  }

  /** One call of the resident instance: the call's budgets, then its default export through the prelude. */
  private executeCall(
    sandbox: PreparedSandbox,
    state: RunState,
    scope: Scope,
    work: Extract<SandboxWork, { type: "call" }>,
    namespace: QuickJSHandle,
  ): RunEnding {
    const { context: ctx } = sandbox;
    const kind = scope.manage(ctx.newString(work.kind));
    const input = scope.manage(ctx.newString(work.inputJson));
    const config = scope.manage(ctx.newString(state.plan.config));
    const called = ctx.callFunction(sandbox.callInstance, ctx.undefined, namespace, kind, input, config);
    if (called.error) return this.failure(sandbox, state, scope.manage(called.error));
    return this.settle(sandbox, state, scope, scope.manage(called.value));
  }

  /**
   * Between runs: puts the snapshot back (filling the heap the run grew with
   * ballast), or, without one, releases the last run's sandbox, gives back
   * the heap it grew and prepares the next sandbox; a bloated or exhausted
   * module is replaced either way. Throws only when no working module can be made.
   */
  async afterRun(): Promise<void> {
    this.finishedScope?.dispose();
    this.finishedScope = undefined;
    // The resident instance keeps its sandbox and heap; a call that left it in doubt ends the worker.
    if (this.resident) return;
    const finished = this.finished;
    this.finished = undefined;
    const snapshot = this.snapshot;
    if (finished && snapshot && finished.sandbox === snapshot.sandbox) {
      // The run's handles point into memory about to be overwritten: drop them, release nothing.
      if (this.restore(snapshot)) return;
      await this.replaceHeap();
      this.prepareSpare();
      return;
    }
    // A module QuickJS ran out of memory in is replaced whole: its runtime is not even freed
    // (QuickJS may leak objects when an allocation fails, and would then abort on the leak check).
    if (finished && !this.heap.exhausted) {
      try {
        finished.scope.dispose();
        this.disposeSandbox(finished.sandbox);
      } catch {
        await this.replaceHeap();
      }
    }
    if (!this.heap.refill()) await this.replaceHeap();
    this.prepareSpare();
  }

  /**
   * After the host side of a run failed (a RangeError from V8's own stack
   * unwound through the module, a WebAssembly trap): the module instance may
   * be damaged, so it is dropped without touching it and a fresh one takes
   * its place. The worker itself is fine.
   */
  async recover(): Promise<void> {
    this.current = undefined;
    this.finished = undefined;
    this.spare = undefined;
    await this.replaceHeap();
    this.prepareSpare();
  }

  /**
   * Puts the snapshot back: the sandbox is again as it was before its first run, and is the
   * next spare. False when the heap must be replaced instead (exhausted, or grown too large).
   */
  private restore(snapshot: Snapshot): boolean {
    const restored = this.heap.restore(snapshot.memory);
    if (!restored) return false;
    snapshot.library.restore();
    this.reseed(snapshot);
    // The memory a run grew is ballast now; the copy covers its blocks' headers too.
    if (restored === "grown") snapshot.memory = this.heap.snapshot(this.stack);
    this.platform = platformHostFunction();
    this.spare = snapshot.sandbox;
    this.idleCpu = this.clock.now();
    return true;
  }

  /** A fresh context seeds `Math.random` from the clock; a restored one gets a new seed too. */
  private reseed(snapshot: Snapshot): void {
    new DataView(this.heap.memory.buffer).setBigUint64(snapshot.randomState, randomSeed(), true);
  }

  private async replaceHeap(): Promise<void> {
    this.heap.onGrow = undefined;
    this.heap.onRefuse = undefined;
    this.spare = undefined;
    this.snapshot = undefined;
    this.heap = await QuickJSHeap.create(this.wasmModule);
    this.watchHeap();
  }

  private prepareSpare(): void {
    this.platform = platformHostFunction();
    const sandbox = this.prepare();
    this.spare = sandbox;
    this.heap.refill();
    this.snapshot = this.takeSnapshot(sandbox);
    this.idleCpu = this.clock.now();
  }

  /**
   * Copies a freshly prepared sandbox (memory and the library's JS-side state) so that every
   * later fresh run on this heap starts from the copy. Undefined when the library's internals or
   * QuickJS's random state cannot be found: each run then prepares its own sandbox.
   */
  private takeSnapshot(sandbox: PreparedSandbox): Snapshot | undefined {
    if (this.resident || this.heap.exhausted) return undefined;
    const { randomState } = sandbox;
    const library = captureLibraryState(this.heap.module, sandbox.runtime, sandbox.context);
    if (randomState === undefined || !library) return undefined;
    return { sandbox, memory: this.heap.snapshot(this.stack), library, randomState };
  }

  private prepare(): PreparedSandbox {
    const runtime = this.heap.module.newRuntime();
    let context: QuickJSContext | undefined;
    try {
      runtime.setMaxStackSize(this.maxStackBytes);
      runtime.setInterruptHandler(this.interrupt);
      runtime.setModuleLoader((name) => {
        throw new Error(`import of "${name}" is not available in the sandbox`);
      });
      context = runtime.newContext();
      // computeMemoryUsage() borrows this context instead of creating one of its own.
      runtime.context = context;
      const ctx = context;
      const randomState = findRandomState(this.heap.memory, ctx);
      const text = (handle: QuickJSHandle | undefined): string =>
        handle === undefined ? "" : ctx.typeof(handle) === "string" ? ctx.getString(handle) : String(ctx.dump(handle));
      ctx
        .newFunction(HOST_LOG, (level, line) => {
          const state = this.current;
          // Nothing the guest writes after a limit, an abort or a failed allocation reaches the host.
          if (state && !state.oom && !state.trip && !state.aborted) {
            this.sink.log(state.plan.id, text(level) as ConsoleLevel, text(line));
          }
        })
        .consume((fn) => ctx.setProp(ctx.global, HOST_LOG, fn));
      ctx
        .newFunction(HOST_WARN, (budget, fraction) => {
          const state = this.current;
          if (state) this.warn(state, text(budget) as WarningBudget, Number(text(fraction)));
        })
        .consume((fn) => ctx.setProp(ctx.global, HOST_WARN, fn));
      ctx
        .newFunction(HOST_COMPILE, (mode, a, b) => ctx.newString(this.code().compile(text(mode), text(a), text(b))))
        .consume((fn) => ctx.setProp(ctx.global, HOST_COMPILE, fn));
      ctx
        .newFunction(HOST_ORIGINAL, (fnText) => ctx.newString(this.code().original(text(fnText))))
        .consume((fn) => ctx.setProp(ctx.global, HOST_ORIGINAL, fn));
      ctx
        .newFunction(HOST_CALL, (id, name, args) => {
          const state = this.current;
          if (state && !state.oom && !state.trip && !state.aborted) {
            this.request(state, ctx.getNumber(id), text(name), text(args));
          }
        })
        .consume((fn) => ctx.setProp(ctx.global, HOST_CALL, fn));
      ctx
        .newFunction(HOST_PLATFORM, (op, a, b) =>
          ctx.newString(
            this.platform(
              ctx.dump(op),
              a === undefined ? undefined : ctx.dump(a),
              b === undefined ? undefined : ctx.dump(b),
            ),
          ),
        )
        .consume((fn) => ctx.setProp(ctx.global, HOST_PLATFORM, fn));
      const api = ctx.unwrapResult(ctx.evalCode(PRELUDE_SOURCE, PRELUDE_FILENAME, { type: "global" }));
      const finishScript = ctx.getProp(api, "finishScript");
      const finishModule = ctx.getProp(api, "finishModule");
      const status = ctx.getProp(api, "status");
      const finishLoad = ctx.getProp(api, "finishLoad");
      const callInstance = ctx.getProp(api, "callInstance");
      const settleCall = ctx.getProp(api, "settleCall");
      api.dispose();
      const describe = ctx.unwrapResult(ctx.evalCode(DESCRIBE_SOURCE, "warden:describe", { type: "global" }));
      const baselineBytes = runtime
        .computeMemoryUsage()
        .consume((usage) => ctx.getProp(usage, "memory_used_size").consume((size) => ctx.getNumber(size)));
      return {
        runtime,
        context,
        finishScript,
        finishModule,
        status,
        finishLoad,
        callInstance,
        settleCall,
        describe,
        baselineBytes,
        randomState,
      };
    } catch (error) {
      if (context?.alive) context.dispose();
      if (runtime.alive) runtime.dispose();
      throw error;
    }
  }

  private disposeSandbox(sandbox: PreparedSandbox): void {
    const { finishScript, finishModule, status, finishLoad, callInstance, settleCall, describe } = sandbox;
    for (const handle of [finishScript, finishModule, status, finishLoad, callInstance, settleCall, describe]) {
      if (handle.alive) handle.dispose();
    }
    sandbox.runtime.removeInterruptHandler();
    sandbox.context.dispose();
    sandbox.runtime.dispose();
  }

  private execute(sandbox: PreparedSandbox, state: RunState, scope: Scope): RunEnding {
    const { context: ctx } = sandbox;
    const { prepared, config } = state.plan;
    ctx.newString(config).consume((config) => ctx.setProp(ctx.global, RUN_CONFIG, config));
    const evaluated = ctx.evalCode(prepared.code, prepared.filename, {
      type: prepared.kind === "module" ? "module" : "global",
    });
    if (evaluated.error) return this.failure(sandbox, state, scope.manage(evaluated.error));
    const value = scope.manage(evaluated.value);
    let finish: QuickJSHandle;
    if (prepared.kind === "module") {
      // A module with top-level await evaluates to a promise of its namespace.
      const namespace = this.awaitPromise(sandbox, state, value, scope);
      if ("ending" in namespace) return namespace;
      const called = ctx.callFunction(sandbox.finishModule, ctx.undefined, namespace.value);
      if (called.error) return this.failure(sandbox, state, scope.manage(called.error));
      finish = scope.manage(called.value);
    } else if (prepared.finishesItself) {
      finish = value;
    } else {
      const called = ctx.callFunction(sandbox.finishScript, ctx.undefined, value);
      if (called.error) return this.failure(sandbox, state, scope.manage(called.error));
      finish = scope.manage(called.value);
    }
    return this.settle(sandbox, state, scope, finish);
  }

  /** Awaits the prelude's finish promise, lets the jobs still queued run, and reads the answer. */
  private settle(sandbox: PreparedSandbox, state: RunState, scope: Scope, finish: QuickJSHandle): RunEnding {
    const { context: ctx } = sandbox;
    const settled = this.awaitPromise(sandbox, state, finish, scope);
    if ("ending" in settled) return settled;
    // Like V8, which hands the result over once its microtask queue is empty, let the jobs still
    // queued run to the end: work the guest left behind counts, and may trip a limit.
    const drained = this.drain(sandbox, state, scope);
    if (drained) return drained;
    state.armed = false;
    // The result string is the guest's; copying it out needs as much heap again.
    const length = ctx.getProp(settled.value, "length").consume((size) => ctx.getNumber(size));
    this.heap.openBudget(HOST_HEADROOM_BYTES + 3 * length);
    return { ending: "finished", finish: ctx.getString(settled.value) };
  }

  /** Runs pending jobs until a promise settles, the guest is stopped, or nothing is left that could settle it. */
  private awaitPromise(
    sandbox: PreparedSandbox,
    state: RunState,
    handle: QuickJSHandle,
    scope: Scope,
  ): { value: QuickJSHandle } | RunEnding {
    const { runtime, context: ctx } = sandbox;
    for (;;) {
      const promise = ctx.getPromiseState(handle);
      if (promise.type === "fulfilled") {
        return { value: promise.notAPromise ? handle : scope.manage(promise.value) };
      }
      if (promise.type === "rejected") return this.failure(sandbox, state, scope.manage(promise.error));
      if (state.trip || state.oom || state.aborted) return this.stopped(sandbox, state);
      if (!runtime.hasPendingJob()) {
        if (state.calls.size === 0 && state.timers.size === 0) {
          return { ending: "stalled", status: this.status(sandbox, state) };
        }
        const stopped = this.waitForHost(sandbox, state, scope);
        if (stopped) return stopped;
        continue;
      }
      state.ranJobs = true;
      const jobs = this.heap.executePendingJobs(runtime, ctx);
      if (jobs.error) return this.failure(sandbox, state, scope.manage(jobs.error));
    }
  }

  /** A guest's host call: timers sleep here, in the worker; anything else goes to the main thread. */
  private request(state: RunState, call: number, name: string, args: string): void {
    if (name === "timer") {
      const ms = Number((JSON.parse(args) as unknown[])[0]) || 0;
      state.timers.set(call, performance.now() + Math.max(0, ms));
      return;
    }
    state.calls.add(call);
    this.sink.hostCall(state.plan.id, call, name, args);
  }

  /**
   * The guest waits for host calls or timers and nothing else can run: sleep on the control
   * block's mail slot until an answer comes, a timer is due, the run's wall clock ends or the
   * host aborts it; then settle what is ready. Returns an ending when the guest was stopped.
   */
  private waitForHost(sandbox: PreparedSandbox, state: RunState, scope: Scope): RunEnding | undefined {
    const { context: ctx } = sandbox;
    const settle = (call: number, outcome: string, text: string) => {
      const args = [ctx.newNumber(call), ctx.newString(outcome), ctx.newString(text)].map((h) => scope.manage(h));
      const settled = ctx.callFunction(sandbox.settleCall, ctx.undefined, ...args);
      if (settled.error) scope.manage(settled.error);
      else settled.value.dispose();
    };
    for (;;) {
      if (Atomics.load(this.control.abort, 0) !== 0) state.aborted = true;
      const now = performance.now();
      if (now >= state.wallDeadline) {
        state.trip = { kind: "timeout", limit: state.plan.timeoutMs, observed: Math.round(now - state.startedAt) };
      }
      if (state.trip || state.aborted) return this.stopped(sandbox, state);
      let progressed = false;
      Atomics.store(this.control.mail, 0, 0);
      for (let reply = receiveMessageOnPort(this.replies); reply; reply = receiveMessageOnPort(this.replies)) {
        const answer = reply.message as HostReply;
        if (answer.id !== state.plan.id || !state.calls.delete(answer.call)) continue;
        settle(answer.call, answer.outcome, answer.text);
        progressed = true;
      }
      for (const [call, due] of state.timers) {
        if (due > now) continue;
        state.timers.delete(call);
        settle(call, "ok", "");
        progressed = true;
      }
      if (progressed) return undefined;
      let wake = state.wallDeadline;
      for (const due of state.timers.values()) wake = Math.min(wake, due);
      const waitMs = wake === Infinity ? undefined : Math.max(0, wake - now);
      // A sleeping thread uses no CPU: publish what it used so far, and tell the main thread's
      // backstop not to count the sleep as CPU (a sample "taken" in the far future), until it wakes.
      const { clock } = this.control;
      clock[CLOCK_CPU_MS] = state.cpuUsed = this.clock.now() - state.cpuStart;
      clock[CLOCK_SAMPLED_AT] = Number.MAX_SAFE_INTEGER;
      Atomics.wait(this.control.mail, 0, 0, waitMs);
      clock[CLOCK_SAMPLED_AT] = epochMs();
      state.sampledAt = performance.now();
      state.scheduleCpuCheck();
    }
  }

  /** Runs the jobs still queued after the result settled; returns an ending if that stopped the guest or a limit tripped. */
  private drain(sandbox: PreparedSandbox, state: RunState, scope: Scope): RunEnding | undefined {
    const { runtime, context: ctx } = sandbox;
    while (runtime.hasPendingJob() && !state.trip && !state.oom && !state.aborted) {
      state.ranJobs = true;
      const jobs = this.heap.executePendingJobs(runtime, ctx);
      if (jobs.error) scope.manage(jobs.error);
    }
    if (state.trip || state.oom || state.aborted) return this.stopped(sandbox, state);
    // Jobs that ran after the result was computed may have tripped a limit since.
    if (!state.ranJobs) return undefined;
    const status = this.status(sandbox, state);
    return status.startsWith("[null,") ? undefined : { ending: "dead", status };
  }

  /** The guest was stopped by the interrupt handler, or ran out of heap. */
  private stopped(sandbox: PreparedSandbox, state: RunState): RunEnding {
    const status = this.status(sandbox, state);
    if (state.oom) return { ending: "out_of_memory", status };
    if (state.trip) return { ending: "tripped", trip: state.trip, status };
    return { ending: "aborted", status };
  }

  /** The guest threw: read the prelude's status and a description of the error. */
  private failure(sandbox: PreparedSandbox, state: RunState, error: QuickJSHandle): RunEnding {
    if (state.trip || state.oom || state.aborted) return this.stopped(sandbox, state);
    // The guest's heap budget may be spent (out of memory): reading the error is the host's work.
    this.heap.openBudget(HOST_HEADROOM_BYTES);
    const status = this.status(sandbox, state);
    const described = this.describe(sandbox, state, error);
    // Reading the error runs the guest's getters, which may themselves meet a limit.
    if (state.trip || state.oom || state.aborted) return this.stopped(sandbox, state);
    return { ending: "threw", status, error: described };
  }

  /** The prelude's status (primitives only, no guest code). */
  private status(sandbox: PreparedSandbox, state: RunState): string {
    const { context: ctx } = sandbox;
    const armed = state.armed;
    state.armed = false;
    try {
      const called = ctx.callFunction(sandbox.status, ctx.undefined);
      if (called.error) {
        called.error.dispose();
        return NO_STATUS;
      }
      return called.value.consume((text) => (ctx.typeof(text) === "string" ? ctx.getString(text) : NO_STATUS));
    } finally {
      state.armed = armed;
    }
  }

  private describe(sandbox: PreparedSandbox, state: RunState, error: QuickJSHandle): ReportedError {
    const { context: ctx } = sandbox;
    let parts: [boolean, string, string, string] = [false, "undefined", "", ""];
    const called = ctx.callFunction(sandbox.describe, ctx.undefined, error);
    state.armed = false;
    if (called.error) {
      called.error.dispose();
    } else {
      try {
        parts = JSON.parse(called.value.consume((json) => ctx.getString(json))) as typeof parts;
      } catch {
        // Not readable: report a generic error below.
      }
    }
    const [isError, name, message, stack] = parts;
    if (!isError) return { name: "Error", message: `uncaught ${name}: ${message}`, stack: "" };
    return { name, message, stack: formatStack(name, message, stack) };
  }

  /**
   * CPU time, and the sandbox's heap: what it held before the guest ran plus
   * what the run grew the WebAssembly heap by. (Allocations that fit in the
   * free reserve do not show; QuickJS's own count of its heap walks every
   * object, which would cost more than a small run itself.)
   */
  private measure(sandbox: PreparedSandbox, state: RunState): ReportedUsage {
    const cpuMs = Math.max(0, this.clock.now() - state.cpuStart);
    const peakMemoryBytes = sandbox.baselineBytes + Math.max(0, this.heap.bytes - state.startBytes);
    const { memoryBytes, memoryConfigured, warnAt } = state.plan;
    if (memoryConfigured && warnAt > 0 && peakMemoryBytes >= memoryBytes * warnAt) {
      this.warn(state, "memory", peakMemoryBytes / memoryBytes);
    }
    return { cpuMs, peakMemoryBytes };
  }

  private warn(state: RunState, budget: WarningBudget, fraction: number): void {
    if (state.warned.has(budget)) return;
    state.warned.add(budget);
    this.sink.warn(state.plan.id, budget, fraction);
  }

  /** QuickJS's interrupt handler: called every few thousand interpreter steps. True stops the guest. */
  private onInterrupt(): boolean {
    const state = this.current;
    if (!state || !state.armed) return false;
    if (state.trip || state.oom || state.aborted) return true;
    if (Atomics.load(this.control.abort, 0) !== 0) {
      state.aborted = true;
      return true;
    }
    const now = performance.now();
    const { timeoutMs, cpuTimeMs } = state.plan;
    if (now >= state.wallDeadline) {
      state.trip = { kind: "timeout", limit: timeoutMs, observed: Math.round(now - state.startedAt) };
      return true;
    }
    if (now >= state.wallWarnAt && !state.warned.has("timeout")) {
      this.warn(state, "timeout", (now - state.startedAt) / timeoutMs);
    }
    if (now >= state.nextCpuCheckAt) {
      state.cpuUsed = this.clock.now() - state.cpuStart;
      state.sampledAt = now;
      this.control.clock[CLOCK_SAMPLED_AT] = epochMs();
      this.control.clock[CLOCK_CPU_MS] = state.cpuUsed;
      if (state.cpuUsed >= cpuTimeMs) {
        state.trip = { kind: "cpu", limit: cpuTimeMs, observed: Math.round(state.cpuUsed) };
        return true;
      }
      const { warnAt } = state.plan;
      if (warnAt > 0 && state.cpuUsed >= cpuTimeMs * warnAt && !state.warned.has("cpu")) {
        this.warn(state, "cpu", state.cpuUsed / cpuTimeMs);
      }
      state.scheduleCpuCheck();
    }
    return false;
  }

  /** Releases the sandboxes the host holds (the worker is closing). */
  dispose(): void {
    this.finishedScope?.dispose();
    this.finishedScope = undefined;
    if (this.resident) {
      this.resident.namespace.dispose();
      this.disposeSandbox(this.resident.sandbox);
      this.resident = undefined;
    }
    if (this.finished) {
      this.finished.scope.dispose();
      this.disposeSandbox(this.finished.sandbox);
    }
    if (this.spare) this.disposeSandbox(this.spare);
    this.finished = undefined;
    this.spare = undefined;
  }
}

/** QuickJS stacks list frames only; reports carry V8's shape: `Name: message` then at most ten frames. */
function formatStack(name: string, message: string, stack: string): string {
  const frames = stack.split("\n").filter((line) => /^\s+at /.test(line));
  const head = message ? `${name}: ${message}` : name;
  return [head, ...frames.slice(0, STACK_FRAMES)].join("\n");
}
