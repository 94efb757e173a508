import type ivm from "isolated-vm";
import type { PreparedSource } from "../../transform/index.js";
import { names } from "../../transform/index.js";
import { GuestCode } from "../codegen.js";
import {
  emptyUsage,
  leavesInstanceInDoubt,
  type EngineRunOutcome,
  type InstanceCallKind,
  type RunReporter,
} from "../contract.js";
import type { LimitValues } from "../../limits/index.js";
import { notAModule } from "../outcome.js";
import { preludeRunConfig } from "../prelude.js";
import { IsolateSandbox, isolateMemoryMb, type ContextRun, type PreparedContext } from "./sandbox.js";
import { superviseRun, type RunControl } from "./supervise.js";
import type { SyncWatchdog } from "./sync-watchdog.js";

const { RUN_CONFIG } = names;

const COPY_PROMISE = { result: { promise: true, copy: true } } as const;
const COPY = { result: { copy: true } } as const;

/**
 * A call runs synchronously (below) only under a CPU budget at most this long: the process's
 * main thread is inside it meanwhile, so an abort or another instance's call waits for it.
 */
const SYNC_MAX_CPU_BUDGET_MS = 100;
/**
 * ...and only if the instance's previous call was short, in CPU and in wall-clock time (a guest
 * blocked in Atomics.wait uses no CPU): long calls keep to isolated-vm's threads, beside the
 * other instances' calls instead of ahead of them.
 */
const SYNC_MAX_PREVIOUS_CPU_MS = 2;
const SYNC_MAX_PREVIOUS_WALL_MS = 20;

type PreludeFunction<T extends (...args: never[]) => unknown> = ivm.Reference<T>;
/** A call's arguments to the prelude: the module's namespace, the call's kind, its input and its configuration. */
type CallArguments = [ivm.Dereference<unknown>, string, string, string];

/** A module to load into a warm isolate. */
export interface InstanceLoad extends RunReporter {
  prepared: PreparedSource;
  limits: LimitValues;
  signal?: AbortSignal | undefined;
  /** Watches the instance's synchronous calls; without one, every call is asynchronous. */
  syncWatchdog?: SyncWatchdog | undefined;
}

/** One call of a warm isolate. */
export interface InstanceCall extends RunReporter {
  kind: InstanceCallKind;
  inputJson: string;
  limits: LimitValues;
  signal?: AbortSignal | undefined;
}

/**
 * A module loaded once in an isolate of its own, inside a sandbox process,
 * called many times: its context and module state persist between calls.
 * Each call runs under its own budgets ({@link superviseRun}); the memory
 * limit is the isolate's, fixed at load. A call that ends in a limit, an
 * abort or a dead isolate leaves the instance dead: its owner disposes it and
 * the host loads a fresh one.
 */
export class WarmIsolate {
  private busy = false;
  private failed = false;
  /** The previous call's usage, which decides whether the next one may run synchronously. */
  private previous: { cpuMs: number; wallMs: number } | undefined;

  private constructor(
    private readonly sandbox: IsolateSandbox,
    private readonly context: PreparedContext,
    private readonly module: ivm.Module,
    /** The module's namespace, taken once (each read of `module.namespace` makes a new reference). */
    private readonly namespace: ivm.Reference<unknown>,
    private readonly prelude: {
      callInstance: PreludeFunction<(namespace: unknown, kind: string, input: string, config: string) => string>;
      startCall: PreludeFunction<(namespace: unknown, kind: string, input: string, config: string) => void>;
      takeAnswer: PreludeFunction<() => string | null>;
      waitAnswer: PreludeFunction<() => string>;
      sentToHost: PreludeFunction<() => number>;
    },
    private readonly prepared: PreparedSource,
    private readonly sync: { watchdog: SyncWatchdog; slot: number } | undefined,
  ) {}

  /** Loads a module: evaluates it once under the load's budgets. */
  static async load(request: InstanceLoad): Promise<{ outcome: EngineRunOutcome; instance?: WarmIsolate }> {
    const { prepared, limits } = request;
    if (prepared.kind !== "module") {
      return { outcome: { ok: false, error: notAModule(prepared.filename), usage: emptyUsage() } };
    }
    // Called synchronously, the isolate must abort the process on a fatal out-of-memory (sandbox.ts).
    const sandbox = new IsolateSandbox(isolateMemoryMb(limits.memoryBytes), {
      quarantine: request.syncWatchdog === undefined,
    });
    let context: PreparedContext | undefined;
    let module: ivm.Module | undefined;
    const outcome = await superviseRun(
      sandbox,
      request,
      async (reporter) => {
        context = await sandbox.takeContext();
        context.sink = { ...reporter, code: new GuestCode(() => prepared) };
        await context.context.global.set(RUN_CONFIG, preludeRunConfig(limits, undefined));
        module = await sandbox.isolate.compileModule(prepared.code, { filename: prepared.filename });
        await module.instantiate(context.context, (specifier) => {
          throw new Error(`import of "${specifier}" is not available in the sandbox`);
        });
        await module.evaluate({ promise: true } as never);
        // The prelude's status after the module's evaluation, with no result.
        const finishLoad = (await context.api.get("finishLoad", { reference: true })) as ivm.Reference<
          (namespace: unknown) => Promise<string>
        >;
        try {
          return (await finishLoad.apply(undefined, [module.namespace.derefInto()], COPY_PROMISE)) as string;
        } finally {
          finishLoad.release();
        }
      },
      () => context,
    );
    if (!outcome.ok || !context || !module || !sandbox.alive) {
      sandbox.bury(context, module);
      if (!sandbox.failedCatastrophically) {
        module?.release();
        context?.release();
      }
      sandbox.dispose();
      return { outcome };
    }
    const api = context.api;
    const names = ["callInstance", "startCall", "takeAnswer", "waitAnswer", "sentToHost"] as const;
    const references = await Promise.all(names.map((name) => api.get(name, { reference: true })));
    const prelude = Object.fromEntries(names.map((name, i) => [name, references[i]])) as WarmIsolate["prelude"];
    const { syncWatchdog } = request;
    const sync = syncWatchdog ? { watchdog: syncWatchdog, slot: await syncWatchdog.add(sandbox.isolate) } : undefined;
    return {
      outcome,
      instance: new WarmIsolate(sandbox, context, module, module.namespace, prelude, prepared, sync),
    };
  }

  /** True while the instance can take calls. */
  get alive(): boolean {
    return !this.failed && this.sandbox.alive;
  }

  /** Runs one call. A call that fails for any reason but the guest's own exception kills the instance. */
  async call(request: InstanceCall): Promise<EngineRunOutcome> {
    if (this.busy) throw new Error("a warm isolate runs one call at a time");
    this.busy = true;
    try {
      const synchronous = this.runsSynchronously(request);
      const outcome = await superviseRun(
        this.sandbox,
        { ...request, prepared: this.prepared },
        async (reporter, control) => {
          const config = preludeRunConfig(request.limits, undefined);
          const args: CallArguments = [this.namespace.derefInto(), request.kind, request.inputJson, config];
          const code = new GuestCode(() => this.prepared);
          if (synchronous) return this.callSynchronously(args, request.limits, reporter, code, control);
          this.context.sink = { ...reporter, code };
          return (await this.prelude.callInstance.apply(undefined, args, COPY_PROMISE)) as string;
        },
        () => this.context,
      );
      this.previous = { cpuMs: outcome.usage.cpuMs, wallMs: outcome.usage.wallMs };
      if (leavesInstanceInDoubt(outcome)) this.failed = true;
      return outcome;
    } finally {
      this.busy = false;
    }
  }

  /**
   * Whether a call runs synchronously: on this thread, without the round trip to one of
   * isolated-vm's threads and back that an asynchronous call costs (about a third of a short
   * call's CPU, measured), its budgets enforced meanwhile by the process's {@link SyncWatchdog}.
   * Only short calls under a short CPU budget do, with a watchdog running.
   */
  private runsSynchronously(request: InstanceCall): boolean {
    const { cpuTimeMs } = request.limits;
    const previous = this.previous;
    return (
      this.sync !== undefined &&
      this.sync.watchdog.ready &&
      cpuTimeMs > 0 &&
      cpuTimeMs <= SYNC_MAX_CPU_BUDGET_MS &&
      previous !== undefined &&
      previous.cpuMs < SYNC_MAX_PREVIOUS_CPU_MS &&
      previous.wallMs < SYNC_MAX_PREVIOUS_WALL_MS &&
      request.signal?.aborted !== true
    );
  }

  /**
   * Runs a call synchronously up to its first wait: its answer, if it needed no host (a timer, a
   * host call), else the promise of it, waited for as an asynchronous call's would be. The
   * watchdog disposes the isolate of a call that outruns its budget, which ends it here.
   */
  private async callSynchronously(
    args: CallArguments,
    limits: LimitValues,
    reporter: ContextRun,
    code: GuestCode,
    control: RunControl,
  ): Promise<string> {
    const { watchdog, slot } = this.sync!;
    // The call's console lines, warnings and host-call requests reach this thread as tasks, after
    // the synchronous call: the answer waits for as many as the prelude counted (an asynchronous
    // call's answer comes after them by itself, from the same queue).
    const arrivals = new Arrivals();
    this.context.sink = {
      ...reporter,
      code,
      onConsole: (level, text) => {
        reporter.onConsole(level, text);
        arrivals.arrived();
      },
      onWarning: (budget, fraction) => {
        reporter.onWarning(budget, fraction);
        arrivals.arrived();
      },
      request: (id, name, argsJson) => {
        reporter.request?.(id, name, argsJson);
        arrivals.arrived();
      },
      // Time the isolate's clock does not count: the watchdog counts it as the run does.
      spend: (ms) => {
        reporter.spend?.(ms);
        watchdog.spend(ms);
      },
    };
    const budget = {
      cpuStartNs: control.cpuStartNs,
      cpuTimeMs: limits.cpuTimeMs,
      wallLeftMs: limits.timeoutMs > 0 ? Math.max(1, limits.timeoutMs - control.elapsedMs()) : 0,
      timeoutMs: limits.timeoutMs,
      startedAt: Date.now() - control.elapsedMs(),
    };
    watchdog.begin(slot, budget);
    let taken: string | null = null;
    let thrown: { error: unknown } | undefined;
    try {
      this.prelude.startCall.applySync(undefined, args);
      taken = this.prelude.takeAnswer.applySync(undefined, [], COPY) as string | null;
    } catch (error) {
      thrown = { error };
    } finally {
      const trip = watchdog.end(budget, this.sandbox.isolate);
      if (trip) control.tripped(trip);
    }
    if (thrown) {
      // Its messages first: as many as the prelude counted, or, from an isolate the watchdog
      // disposed, what the queue holds (isolated-vm's tasks for this thread run in the event loop's
      // poll phase, between two turns of setImmediate).
      if (this.sandbox.isolate.isDisposed) {
        await new Promise((resolve) => setImmediate(resolve));
        await new Promise((resolve) => setImmediate(resolve));
      } else {
        await arrivals.all(this.prelude.sentToHost.applySync(undefined, [], COPY) as number);
      }
      throw thrown.error;
    }
    // Warnings due and budgets run out while no timer could fire.
    control.poll();
    if (taken === null) return (await this.prelude.waitAnswer.apply(undefined, [], COPY_PROMISE)) as string;
    const colon = taken.indexOf(":");
    await arrivals.all(Number(taken.slice(0, colon)));
    return taken.slice(colon + 1);
  }

  /** Releases the isolate. */
  dispose(): void {
    this.failed = true;
    if (this.sync) this.sync.watchdog.remove(this.sync.slot);
    const prelude = Object.values(this.prelude);
    this.sandbox.bury(this.context, this.module, this.namespace, ...prelude);
    if (!this.sandbox.failedCatastrophically && this.sandbox.alive) {
      try {
        for (const reference of prelude) reference.release();
        this.namespace.release();
        this.module.release();
        this.context.release();
      } catch {
        // Handles of a disposed isolate: nothing is left to free.
      }
    }
    this.sandbox.dispose();
  }
}

/**
 * Counts the messages of a synchronous call that reached this thread, and waits for a number of
 * them. They are queued before the wait begins, so they come; a second bounds the wait all the
 * same, since a wait without end would hold the instance and its caller for good.
 */
class Arrivals {
  private count = 0;
  private expected = 0;
  private wake: (() => void) | undefined;

  /** One more message arrived. */
  arrived(): void {
    this.count++;
    if (this.count >= this.expected) this.wake?.();
  }

  /** Resolves once `expected` messages have arrived. */
  all(expected: number): Promise<void> {
    if (this.count >= expected) return Promise.resolve();
    this.expected = expected;
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 1_000);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}
