import ivm from "isolated-vm";
import { names } from "../../transform/index.js";
import { PRELUDE_FILENAME, PRELUDE_SOURCE } from "../prelude.js";
import { buryWithAbandonedIsolate, recordAbandonedIsolate } from "../abandoned.js";
import { GuestCode } from "../codegen.js";
import { platformHostFunction } from "../platform-host.js";
import type { ConsoleLevel, RunReporter, WarningBudget } from "../contract.js";

const { HOST_CALL, HOST_COMPILE, HOST_LOG, HOST_ORIGINAL, HOST_PLATFORM, HOST_WARN } = names;

/**
 * Where a context's callbacks go for the run that owns it: its reporter, its code generation
 * (`engine/codegen.ts`), and its host calls' requests (`engine/prelude-host.ts`).
 */
export type ContextRun = RunReporter & {
  code?: GuestCode;
  request?: (id: number, name: string, argsJson: string) => void;
  /**
   * Milliseconds this process's main thread spent answering one of the run's synchronous
   * callbacks (instrumenting code made by eval, a digest...). The isolate's CPU clock stops
   * meanwhile, so the run's CPU budget counts them here: a guest cannot make the host work for it
   * for free (a loop of evals of fresh code used 50 ms of isolate time in 250 ms).
   */
  spend?: (ms: number) => void;
};

const NO_RUN: ContextRun = { onConsole: () => {}, onWarning: () => {} };
const NO_CODE = new GuestCode(() => undefined);

/** A fresh context with the prelude installed, used by exactly one run. */
export interface PreparedContext {
  readonly context: ivm.Context;
  /** The prelude's host-facing functions. */
  readonly finishScript: ivm.Reference<(value: unknown) => Promise<string>>;
  readonly finishModule: ivm.Reference<(namespace: unknown) => Promise<string>>;
  readonly status: ivm.Reference<() => string>;
  /** The prelude's whole host-facing object (warm instances take more functions from it). */
  readonly api: ivm.Reference<Record<string, unknown>>;
  /** Callbacks of this context report to this run. */
  sink: ContextRun;
  /** Answers a host call inside the context (the prelude's `settleCall`); failures are ignored (the run is over). */
  settle(id: number, outcome: string, text: string): void;
  /** Releases the context and its references. */
  release(): void;
}

const MEBIBYTE = 2 ** 20;
/** isolated-vm refuses memory limits below 8 MiB. */
const MIN_ISOLATE_MB = 8;

/** isolated-vm's `memoryLimit` in MiB for a byte limit (0/-1: a large ceiling, so a memory bomb still cannot take the host). */
export function isolateMemoryMb(memoryBytes: number): number {
  if (memoryBytes <= 0) return 4096;
  return Math.max(MIN_ISOLATE_MB, Math.ceil(memoryBytes / MEBIBYTE));
}

/**
 * One V8 isolate, leased to one run at a time. It keeps one spare context
 * ready (prelude installed) so that a run does not wait for context creation,
 * and caches compiled scripts by source key. A run that hits a hard limit
 * disposes the isolate; the pool then replaces it.
 */
export class IsolateSandbox {
  readonly isolate: ivm.Isolate;
  readonly memoryMb: number;
  /** Runs this isolate has served (its owner replaces it after a number of them). */
  runs = 0;
  private readonly prelude: Promise<ivm.Script>;
  private readonly scripts = new Map<string, ivm.Script>();
  private spare: Promise<PreparedContext> | undefined;
  private disposed = false;
  private catastrophic = false;
  /** Why the isolate was lost, once it was (see {@link whileAlive}). */
  private lostError: Error | undefined;
  /** Rejects the work {@link whileAlive} watches now. */
  private readonly watchers = new Set<(error: Error) => void>();

  /**
   * `quarantine`: on a fatal V8 out-of-memory, isolated-vm parks the thread that ran out and calls
   * back (see {@link whileAlive}), so that the process goes on. Without it, the process aborts:
   * right for an isolate that the process's main thread calls synchronously (`instance.ts`), since
   * a parked main thread would leave the process hanging with every run it has.
   */
  constructor(memoryMb: number, options: { quarantine?: boolean } = {}) {
    this.memoryMb = memoryMb;
    this.isolate = new ivm.Isolate({
      memoryLimit: memoryMb,
      ...(options.quarantine === false ? {} : { onCatastrophicError: (message: string) => this.lose(message) }),
    });
    // Compiled on the isolate's thread, not the host's.
    this.prelude = this.isolate.compileScript(PRELUDE_SOURCE, { filename: PRELUDE_FILENAME });
    this.prelude.catch(() => {});
    this.warm();
  }

  /** V8 failed fatally in this isolate (isolated-vm's catastrophic-error callback): it is abandoned. */
  private lose(message: string): void {
    this.catastrophic = true;
    this.disposed = true;
    recordAbandonedIsolate(this, this.isolate, this.scripts, this.spare);
    this.lostError = new Error(message);
    for (const reject of this.watchers) reject(this.lostError);
    this.watchers.clear();
  }

  /** True when V8 failed fatally in this isolate (see {@link lost}). */
  get failedCatastrophically(): boolean {
    return this.catastrophic;
  }

  /** True while the isolate can run guests. */
  get alive(): boolean {
    return !this.disposed && !this.isolate.isDisposed;
  }

  /** Starts preparing the next context in the background. */
  warm(): void {
    if (!this.spare && this.alive) {
      this.spare = this.createContext();
      this.spare.catch(() => {}); // failures surface when the context is taken
    }
  }

  /** Keeps a handle of this isolate alive for good if the isolate was abandoned (see `abandoned.ts`). */
  bury(...handles: unknown[]): void {
    if (this.catastrophic) buryWithAbandonedIsolate(...handles);
  }

  /**
   * `work`'s outcome, or a rejection if V8 hits a fatal out-of-memory in this isolate first (a
   * single allocation larger than the heap has left). isolated-vm then parks the isolate's thread
   * for good instead of aborting the process: the isolate can never run or be disposed again, so
   * it is abandoned, and work waiting on it would wait forever. Nothing of the watch is left once
   * `work` settles (a Promise.race with a promise of the loss, per call, kept a reaction on that
   * promise for every call of a warm instance: measured, ~330 bytes a call, never freed).
   */
  whileAlive<T>(work: Promise<T>): Promise<T> {
    if (this.lostError) {
      work.catch(() => {});
      return Promise.reject(this.lostError);
    }
    return new Promise<T>((resolve, reject) => {
      this.watchers.add(reject);
      work.then(
        (value) => {
          this.watchers.delete(reject);
          resolve(value);
        },
        (error: unknown) => {
          this.watchers.delete(reject);
          reject(error);
        },
      );
    });
  }

  /** Takes the spare context (creating one if needed). */
  async takeContext(): Promise<PreparedContext> {
    const next = this.spare ?? this.createContext();
    this.spare = undefined;
    return this.whileAlive(next);
  }

  /** A compiled script for this isolate, cached by source key. */
  async compile(key: string, code: string, filename: string): Promise<ivm.Script> {
    const hit = this.scripts.get(key);
    if (hit) return hit;
    const script = await this.isolate.compileScript(code, { filename });
    if (this.scripts.size >= 64) {
      const oldest = this.scripts.keys().next().value as string;
      this.scripts.get(oldest)?.release();
      this.scripts.delete(oldest);
    }
    this.scripts.set(key, script);
    return script;
  }

  /*
   * Every call here is asynchronous: a synchronous isolated-vm call blocks the
   * host thread until the isolate's scheduler answers, which never happens
   * once a fatal out-of-memory has parked one of isolated-vm's threads.
   */
  private async createContext(): Promise<PreparedContext> {
    const prelude = await this.prelude;
    const context = await this.isolate.createContext();
    const handles: { release(): void }[] = [];
    let settleCall: Promise<ivm.Reference<unknown>> | undefined;
    try {
      const prepared: PreparedContext = {
        context,
        sink: NO_RUN,
        finishScript: undefined as never,
        finishModule: undefined as never,
        status: undefined as never,
        api: undefined as never,
        settle: (id, outcome, text) => {
          settleCall ??= prepared.api.get("settleCall", { reference: true }) as Promise<ivm.Reference<unknown>>;
          settleCall
            .then((ref) => ref.apply(undefined, [id, outcome, text], { result: { promise: false } }))
            .catch(() => {});
        },
        release: () => {
          for (const handle of handles.reverse()) handle.release();
          context.release();
        },
      };
      const log = new ivm.Callback((level: ConsoleLevel, text: string) => prepared.sink.onConsole(level, text), {
        ignored: true,
      });
      const warn = new ivm.Callback(
        (budget: WarningBudget, fraction: number) => prepared.sink.onWarning(budget, fraction),
        {
          ignored: true,
        },
      );
      // Synchronous: eval and toString answer at once, on this process's main thread, while the
      // isolate waits; the time each takes is the run's (ContextRun.spend).
      const timed =
        <A extends unknown[], R>(answer: (...args: A) => R) =>
        (...args: A): R => {
          const started = performance.now();
          try {
            return answer(...args);
          } finally {
            prepared.sink.spend?.(performance.now() - started);
          }
        };
      const compile = new ivm.Callback(
        timed((mode: string, a: string, b: string) => (prepared.sink.code ?? NO_CODE).compile(mode, a, b)),
        { sync: true },
      );
      const original = new ivm.Callback(
        timed((text: string) => (prepared.sink.code ?? NO_CODE).original(text)),
        { sync: true },
      );
      const platform = new ivm.Callback(timed(platformHostFunction()), { sync: true });
      const request = new ivm.Callback(
        (id: number, name: string, argsJson: string) => prepared.sink.request?.(id, name, argsJson),
        { ignored: true },
      );
      // Queued together, not one after another: isolated-vm runs an isolate's asynchronous calls
      // in the order they were queued (so the prelude runs after the sets), its thread runs them
      // back to back, and their answers wake this thread about once instead of once each (a
      // context is made for every fresh run).
      const sets = [
        context.global.set(HOST_LOG, log),
        context.global.set(HOST_WARN, warn),
        context.global.set(HOST_COMPILE, compile),
        context.global.set(HOST_ORIGINAL, original),
        context.global.set(HOST_PLATFORM, platform),
        context.global.set(HOST_CALL, request),
      ];
      const ran = prelude.run(context, { reference: true }) as Promise<ivm.Reference<Record<string, unknown>>>;
      const [api] = await Promise.all([ran, ...sets]);
      handles.push(api);
      const get = async <T>(name: string) => {
        const ref = (await api.get(name, { reference: true })) as ivm.Reference<T>;
        handles.push(ref);
        return ref;
      };
      const [finishScript, finishModule, status] = await Promise.all([
        get("finishScript"),
        get("finishModule"),
        get("status"),
      ]);
      Object.assign(prepared, { api, finishScript, finishModule, status });
      return prepared;
    } catch (error) {
      for (const handle of handles) handle.release();
      context.release();
      throw error;
    }
  }

  /** Disposes the isolate and everything in it. Safe to call twice. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    // A catastrophically failed isolate is never disposed (its thread is parked, so that would
    // block forever) and its handles are never released (see abandoned.ts).
    if (this.catastrophic) return;
    this.scripts.clear();
    this.spare?.then((c) => c.release()).catch(() => {});
    this.spare = undefined;
    try {
      if (!this.isolate.isDisposed) this.isolate.dispose();
    } catch {
      // Disposed meanwhile by another thread (the synchronous watchdog, sync-watchdog.ts).
    }
  }
}
