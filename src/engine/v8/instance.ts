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
import { IsolateSandbox, isolateMemoryMb, type PreparedContext } from "./sandbox.js";
import { superviseRun } from "./supervise.js";

const { RUN_CONFIG } = names;

const COPY_PROMISE = { result: { promise: true, copy: true } } as const;

/** A module to load into a warm isolate. */
export interface InstanceLoad extends RunReporter {
  prepared: PreparedSource;
  limits: LimitValues;
  signal?: AbortSignal | undefined;
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

  private constructor(
    private readonly sandbox: IsolateSandbox,
    private readonly context: PreparedContext,
    private readonly module: ivm.Module,
    private readonly callInstance: ivm.Reference<
      (namespace: unknown, kind: string, input: string, config: string) => Promise<string>
    >,
    private readonly prepared: PreparedSource,
  ) {}

  /** Loads a module: evaluates it once under the load's budgets. */
  static async load(request: InstanceLoad): Promise<{ outcome: EngineRunOutcome; instance?: WarmIsolate }> {
    const { prepared, limits } = request;
    if (prepared.kind !== "module") {
      return { outcome: { ok: false, error: notAModule(prepared.filename), usage: emptyUsage() } };
    }
    const sandbox = new IsolateSandbox(isolateMemoryMb(limits.memoryBytes));
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
    const callInstance = (await api.get("callInstance", { reference: true })) as WarmIsolate["callInstance"];
    return {
      outcome,
      instance: new WarmIsolate(sandbox, context, module, callInstance, prepared),
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
      const outcome = await superviseRun(
        this.sandbox,
        { ...request, prepared: this.prepared },
        async (reporter) => {
          this.context.sink = { ...reporter, code: new GuestCode(() => this.prepared) };
          const config = preludeRunConfig(request.limits, undefined);
          return (await this.callInstance.apply(
            undefined,
            [this.module.namespace.derefInto(), request.kind, request.inputJson, config],
            COPY_PROMISE,
          )) as string;
        },
        () => this.context,
      );
      if (leavesInstanceInDoubt(outcome)) this.failed = true;
      return outcome;
    } finally {
      this.busy = false;
    }
  }

  /** Releases the isolate. */
  dispose(): void {
    this.failed = true;
    this.sandbox.bury(this.context, this.module, this.callInstance);
    if (!this.sandbox.failedCatastrophically && this.sandbox.alive) {
      try {
        this.callInstance.release();
        this.module.release();
        this.context.release();
      } catch {
        // Handles of a disposed isolate: nothing is left to free.
      }
    }
    this.sandbox.dispose();
  }
}
