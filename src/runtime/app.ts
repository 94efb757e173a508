import { availableParallelism } from "node:os";
import { AbortedError, DisposedError, EngineError, LimitExceededError, isWardenError } from "../errors/index.js";
import { overrideLimits, type LimitOptions, type LimitValues, type ResolvedLimits } from "../limits/index.js";
import {
  defaultInstances,
  emptyUsage,
  type ConsoleLevel,
  type Engine,
  type EngineInstance,
  type EngineRunOutcome,
  type FetchAnswer,
  type FetchDescription,
  type InstanceCallKind,
  type RunReporter,
  type Usage,
} from "../engine/index.js";
import { encodeInput, parseOutcome, readBodyCapped, type RunResult } from "./values.js";
import {
  answerHeaderList,
  requestMethod,
  responseStatus,
  responseStatusText,
  type FetchRequestData,
  type FetchResponseData,
} from "./fetch-data.js";

/** How a loaded app's calls share instances. */
export type Isolation = "instance" | "call";

/** Options of {@link Runtime.load}. */
export interface LoadOptions {
  /** File name shown in errors and stack traces; `.ts` sources have their types stripped. @default "app.js" */
  filename?: string;
  /** Limit overrides for this app: its load and, by default, every call (memory is per instance, fixed at load). */
  limits?: LimitOptions;
  /**
   * `"instance"` (default): module state persists between calls, as in Workers; a call that
   * ends in a limit error, an abort or an engine failure recycles its instance, so the next call
   * gets a fresh one. `"call"`: a fresh instance for every call.
   */
  isolation?: Isolation;
  /**
   * Instances serving calls in parallel; calls beyond them wait in line (first come, first served).
   * More are loaded only while calls wait, so a quiet app keeps one.
   * @default V8: 4 per CPU, at most 16; QuickJS: 2 per CPU, at most 8 (see {@link defaultInstances})
   */
  instances?: number | undefined;
  /** The `env` argument of a Workers-style `fetch(request, env, ctx)`: JSON data. @default {} */
  env?: Record<string, unknown>;
  /** Gives up the load when aborted. */
  signal?: AbortSignal;
}

/** Options of one {@link LoadedApp.call} or {@link LoadedApp.fetch}. */
export interface CallOptions {
  /** Limit overrides for this call (its budgets: time, CPU, instructions, depth, value size). */
  limits?: LimitOptions;
  /** Aborts the call: it ends with an `AbortedError`, and its instance is recycled. */
  signal?: AbortSignal;
  /**
   * Gives the call up only while it waits for an instance (it ends with an `AbortedError`, and
   * nothing is recycled); once it runs, it goes on to its end within its budgets and its instance
   * is kept. For a caller that stopped waiting for the answer (an HTTP client that went away):
   * stopping a running call costs its instance, and a client could make the host reload
   * instances at will.
   */
  waitSignal?: AbortSignal;
  /** Called for each line the guest writes to its console during this call. */
  onConsole?: (level: ConsoleLevel, text: string) => void;
  /** Called with what the call used (wall clock, CPU, instructions, memory), whatever its outcome. */
  onUsage?: (usage: Usage) => void;
}

/** Counters of a {@link LoadedApp}. */
export interface AppStats {
  /** Instances loaded and alive (idle or busy). */
  instances: number;
  /** Instances running a call. */
  busy: number;
  /** Calls waiting for an instance. */
  queued: number;
  /** Calls answered (any outcome). */
  calls: number;
  /** Instances loaded over the app's life (the first load included). */
  loads: number;
  /** Instances thrown away after a call that hit a limit, was aborted or failed in the engine. */
  recycled: number;
}

/** What a {@link LoadedApp} needs from its runtime. */
export interface AppHost {
  engine: Engine;
  /** The runtime's limits; the app's and each call's overrides are layered on them. */
  limits: ResolvedLimits;
  /** The reporter of one load or call: console lines and warnings go to the runtime's events too. */
  reporter(filename: string, limits: LimitValues, onConsole?: (level: ConsoleLevel, text: string) => void): RunReporter;
  /** Called once the app is closed (the runtime forgets it). */
  closed(app: LoadedApp): void;
  /** Counts a warm call in against `cap` (its `maxConcurrentTasks`); the limit error when at the cap. */
  enterTask(cap: number): LimitExceededError | undefined;
  /** Counts a warm call out. */
  leaveTask(): void;
}

interface Waiter {
  resolve(instance: EngineInstance): void;
  reject(error: unknown): void;
}

/** Headers that describe a message's framing on the wire, which the host computes itself. */
const FRAMING_HEADERS = new Set([
  "content-length",
  "transfer-encoding",
  "connection",
  "keep-alive",
  "upgrade",
  "te",
  "trailer",
]);

/** The HTTP statuses whose responses have no body (the host's Response refuses one). */
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

/**
 * A module loaded once and called many times (see {@link Runtime.load}). Its
 * default export is either a function, run by {@link call} with a JSON input,
 * or a Workers-style `{ fetch(request, env, ctx) }`, run by {@link fetch} with
 * the host's standard `Request` and `Response`.
 */
export class LoadedApp {
  /** The app's file name. */
  readonly filename: string;
  /** The app's limits (the runtime's with the app's overrides). */
  readonly limits: ResolvedLimits;
  /** How calls share instances. */
  readonly isolation: Isolation;
  /** Instances that may serve calls in parallel. */
  readonly maxInstances: number;
  private readonly idle: EngineInstance[] = [];
  private readonly busySet = new Set<EngineInstance>();
  private readonly waiting: Waiter[] = [];
  private loading = 0;
  private closedFlag = false;
  private counters = { calls: 0, loads: 0, recycled: 0 };

  private constructor(
    private readonly host: AppHost,
    private readonly source: string,
    options: LoadOptions,
  ) {
    this.filename = options.filename ?? "app.js";
    this.limits = overrideLimits(host.limits, options.limits);
    this.isolation = options.isolation ?? "instance";
    const instances = options.instances ?? defaultInstances(host.engine.name, availableParallelism());
    if (!Number.isInteger(instances) || instances < 1) {
      throw new RangeError(`instances must be a positive integer, got ${String(instances)} (${typeof instances})`);
    }
    if (this.isolation !== "instance" && this.isolation !== "call") {
      throw new RangeError(`isolation must be "instance" or "call", got ${JSON.stringify(this.isolation)}`);
    }
    this.maxInstances = instances;
    this.env = options.env ?? {};
  }

  private readonly env: Record<string, unknown>;

  /**
   * @internal Use {@link Runtime.load}. Loads the first instance, so that a module that fails
   * to evaluate fails here, with its typed error.
   */
  static async load(host: AppHost, source: string, options: LoadOptions = {}): Promise<LoadedApp> {
    const app = new LoadedApp(host, source, options);
    const first = await app.loadInstance(options.signal);
    if (app.isolation === "call") await first.close();
    else app.idle.push(first);
    return app;
  }

  /** Loads one instance; throws the load's typed error. */
  private async loadInstance(signal?: AbortSignal): Promise<EngineInstance> {
    const values = this.limits.values;
    const outcome = await this.host.engine.load({
      ...this.host.reporter(this.filename, values),
      source: this.source,
      filename: this.filename,
      limits: values,
      signal,
    });
    this.counters.loads++;
    if (!outcome.ok) throw outcome.error;
    return outcome.instance;
  }

  /**
   * Takes an idle instance, loads one if there is room, or waits in line until either signal
   * aborts. The instance counts as busy from here (synchronously, so that calls started together
   * never see the same room). Two signals rather than `AbortSignal.any` of them: that made a signal
   * for every call, and most calls find an idle instance and listen to neither.
   */
  private acquire(signal: AbortSignal | undefined, waitSignal: AbortSignal | undefined): Promise<EngineInstance> {
    if (this.closedFlag) return Promise.reject(new DisposedError("this app"));
    const instance = this.idle.pop();
    if (instance) {
      this.busySet.add(instance);
      return Promise.resolve(instance);
    }
    const signals = [signal, waitSignal].filter((s): s is AbortSignal => s !== undefined);
    const aborted = signals.find((s) => s.aborted);
    if (aborted) {
      return Promise.reject(
        new AbortedError("the call was aborted while it waited for an instance", { cause: aborted.reason }),
      );
    }
    return new Promise<EngineInstance>((resolve, reject) => {
      const stopListening = () => {
        for (const s of signals) s.removeEventListener("abort", onAbort);
      };
      const waiter: Waiter = {
        resolve: (got) => {
          stopListening();
          resolve(got);
        },
        reject: (error) => {
          stopListening();
          reject(error);
        },
      };
      const onAbort = (event: Event) => {
        stopListening();
        const index = this.waiting.indexOf(waiter);
        if (index >= 0) this.waiting.splice(index, 1);
        const cause = (event.target as AbortSignal | null)?.reason;
        reject(new AbortedError("the call was aborted while it waited for an instance", { cause }));
      };
      for (const s of signals) s.addEventListener("abort", onAbort, { once: true });
      this.waiting.push(waiter);
      this.grow();
    });
  }

  /** Starts loading instances while calls wait for more than are loading, within the cap. */
  private grow(): void {
    while (
      !this.closedFlag &&
      this.waiting.length > this.loading &&
      this.idle.length + this.busySet.size + this.loading < this.maxInstances
    ) {
      // Counted as loading until the instance is handed on, so that no other grow() sees room meanwhile.
      this.loading++;
      this.loadInstance().then(
        (instance) => {
          this.loading--;
          this.release(instance);
        },
        (error: unknown) => {
          this.loading--;
          // A module that loaded before and fails now (it depends on time or chance): the
          // first waiter gets the reason.
          this.waiting.shift()?.reject(error);
        },
      );
    }
  }

  /** An instance is free again: the first waiter takes it, else it goes idle. */
  private release(instance: EngineInstance): void {
    if (this.closedFlag || !instance.alive) {
      void instance.close();
      return;
    }
    const next = this.waiting.shift();
    if (next) {
      this.busySet.add(instance);
      next.resolve(instance);
    } else this.idle.push(instance);
  }

  /**
   * Runs one call on an instance, recycling the instance when the call leaves it in doubt.
   * `limits` are the call's (the app's with the call's overrides), resolved once by the caller.
   */
  private async invoke(
    kind: InstanceCallKind,
    inputJson: string,
    limits: LimitValues,
    options: CallOptions,
  ): Promise<EngineRunOutcome> {
    const refused = this.host.enterTask(limits.maxConcurrentTasks);
    if (refused) return { ok: false, error: refused, usage: emptyUsage() };
    try {
      return await this.invokeCounted(kind, inputJson, limits, options);
    } finally {
      this.host.leaveTask();
    }
  }

  private async invokeCounted(
    kind: InstanceCallKind,
    inputJson: string,
    limits: LimitValues,
    options: CallOptions,
  ): Promise<EngineRunOutcome> {
    let instance: EngineInstance;
    const { signal, waitSignal } = options;
    try {
      instance = await this.acquire(signal, waitSignal);
    } catch (error) {
      return {
        ok: false,
        error: isWardenError(error) ? error : new EngineError("no instance", { cause: error }),
        usage: emptyUsage(),
      };
    }
    let outcome: EngineRunOutcome;
    try {
      outcome = await instance.call({
        ...this.host.reporter(this.filename, limits, options.onConsole),
        kind,
        inputJson,
        limits,
        signal: options.signal,
      });
    } catch (error) {
      outcome = {
        ok: false,
        error: isWardenError(error) ? error : new EngineError(String(error), { cause: error }),
        usage: emptyUsage(),
      };
    } finally {
      this.busySet.delete(instance);
      this.counters.calls++;
    }
    options.onUsage?.(outcome.usage);
    if (!instance.alive) this.counters.recycled++;
    if (this.isolation === "call" || !instance.alive) {
      void instance.close();
      // Its room goes to the next waiter through a fresh instance.
      this.grow();
    } else this.release(instance);
    return outcome;
  }

  /**
   * Calls the module's default export with `input` (JSON data). Same result shape as
   * {@link Runtime.run}: never throws for anything the guest does.
   */
  async call(input?: unknown, options: CallOptions = {}): Promise<RunResult> {
    if (this.closedFlag) throw new DisposedError("this app");
    let limits: LimitValues;
    let inputJson: string;
    try {
      limits = this.callLimits(options);
      inputJson = encodeInput(input, limits.maxValueBytes) ?? "";
    } catch (error) {
      return { ok: false, error: isWardenError(error) ? error : new EngineError(String(error)), usage: emptyUsage() };
    }
    return parseOutcome(await this.invoke("call", inputJson, limits, options));
  }

  /**
   * Runs a Workers-style module's `fetch(request, env, ctx)` (or a default-exported function of
   * the same arguments) and returns its `Response`. Request and response bodies are copied under
   * `maxValueBytes`. Rejects with the typed error of a call that failed (a limit, the guest's
   * own exception, an abort).
   */
  async fetch(request: Request, options: CallOptions = {}): Promise<Response> {
    if (this.closedFlag) throw new DisposedError("this app");
    const limits = this.callLimits(options);
    const body = request.body ? await readBodyCapped(request, limits.maxValueBytes) : null;
    const answer = await this.fetchWith(
      { method: request.method, url: request.url, headers: [...request.headers], body },
      limits,
      options,
    );
    return new Response(NULL_BODY_STATUSES.has(answer.status) ? null : answer.body, {
      status: answer.status,
      statusText: answer.statusText,
      headers: answer.headers,
    });
  }

  /**
   * @internal {@link fetch} on plain data, for a host that has the request's parts at hand and
   * wants the response's (`warden serve`): no `Request`, `Response`, `Headers` or body stream is
   * made. Same checks as {@link fetch}: the body cap both ways, framing headers dropped, and what
   * the Fetch API's classes would refuse (a header, a status, a method) refused alike. The
   * request's headers must be a header list (see {@link rawHeaderList}).
   */
  async fetchData(request: FetchRequestData, options: CallOptions = {}): Promise<FetchResponseData> {
    if (this.closedFlag) throw new DisposedError("this app");
    return this.fetchWith(request, this.callLimits(options), options);
  }

  private async fetchWith(
    request: FetchRequestData,
    limits: LimitValues,
    options: CallOptions,
  ): Promise<FetchResponseData> {
    const { maxValueBytes } = limits;
    const { body } = request;
    const method = requestMethod(request.method, body !== null);
    if (body !== null && maxValueBytes > 0 && body.length > maxValueBytes) {
      throw new LimitExceededError({ kind: "value_size", limit: maxValueBytes, observed: body.length });
    }
    const description: FetchDescription = {
      method,
      url: request.url,
      headers: request.headers,
      body: body === null ? null : Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString("base64"),
      env: this.env,
    };
    const result = parseOutcome(await this.invoke("fetch", JSON.stringify(description), limits, options));
    if (!result.ok) throw result.error;
    const answer = result.value as FetchAnswer;
    // As `new Response()` would take them; framing is the host's business (as in Workers): the
    // guest's framing headers are dropped.
    const headers = answerHeaderList(answer.headers, FRAMING_HEADERS);
    const bytes = Buffer.from(answer.body, "base64");
    if (maxValueBytes > 0 && bytes.length > maxValueBytes) {
      throw new LimitExceededError({ kind: "value_size", limit: maxValueBytes, observed: bytes.length });
    }
    const status = responseStatus(answer.status);
    const statusText = responseStatusText(answer.statusText);
    return { status, statusText, headers, body: NULL_BODY_STATUSES.has(status) ? new Uint8Array(0) : bytes };
  }

  private callLimits(options: CallOptions): LimitValues {
    return overrideLimits(this.limits, options.limits).values;
  }

  /** The app's counters. */
  stats(): AppStats {
    return {
      instances: this.idle.length + this.busySet.size,
      busy: this.busySet.size,
      queued: this.waiting.length,
      ...this.counters,
    };
  }

  /** Releases every instance; waiting calls fail with `DisposedError`. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closedFlag) return;
    this.closedFlag = true;
    for (const waiter of this.waiting.splice(0)) waiter.reject(new DisposedError("this app"));
    const instances = [...this.idle.splice(0), ...this.busySet];
    this.busySet.clear();
    await Promise.all(instances.map((instance) => instance.close()));
    this.host.closed(this);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
