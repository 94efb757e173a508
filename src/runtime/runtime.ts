import { EventEmitter } from "node:events";
import {
  AbortedError,
  ConfigError,
  DisposedError,
  EngineError,
  LimitExceededError,
  isLimitExceeded,
  isWardenError,
} from "../errors/index.js";
import {
  overrideLimits,
  resolveLimits,
  type LimitOptions,
  type LimitValues,
  type ResolvedLimits,
} from "../limits/index.js";
import {
  emptyUsage,
  createEngine,
  type ConsoleLevel,
  type Engine,
  type EngineName,
  type EngineOptions,
  type RunReporter,
  type WarningBudget,
} from "../engine/index.js";
import { LoadedApp, type AppHost, type LoadOptions } from "./app.js";
import { hostCallHandler, type HostFacilities, type SpawnRequest } from "./host-facilities.js";
import { mapModules, type ModuleResolver } from "./modules.js";
import { checkNamespacePolicy, createDatastore, type Datastore, type NamespacePolicy } from "../datastore/index.js";
import { encodeInput, parseOutcome, type RunResult } from "./values.js";

/** Options of {@link createRuntime}. */
export interface RuntimeOptions {
  /**
   * Which engine runs guests.
   * @default "v8"
   */
  engine?: EngineName;
  /** Limits profile (`strict`, `normal`, `relaxed`). @default from env/config, else "normal" */
  profile?: string;
  /** Limit overrides for every run of this runtime (numbers in the limit's unit, or strings with units). */
  limits?: LimitOptions;
  /** Config file path; `false` to ignore `warden.config.json`. @default ./warden.config.json when present */
  configFile?: string | false;
  /** Environment read for WARDEN_* variables. @default process.env */
  env?: Readonly<Record<string, string | undefined>>;
  /** Directory where the config file is looked up. @default process.cwd() */
  cwd?: string;
  /** How many sandboxes run guests side by side (see {@link EngineOptions}). */
  poolSize?: EngineOptions["poolSize"];
  /**
   * The datastore behind the guests' `datastore(name)`: an open {@link Datastore} (the caller
   * keeps it and closes it), or a URL (`memory:`, `sqlite:./data.db`) the runtime opens and
   * closes with itself. Without one, `datastore(name)` operations fail with an error saying so.
   */
  datastore?: Datastore | string;
  /** Which datastore namespaces guests may open: `"*"`, a list of names, or a predicate. @default "*" */
  datastoreNamespaces?: NamespacePolicy;
  /**
   * The modules guests may `spawn(specifier, input, { limits })`: a map of names to sources, or a
   * resolver. Without it, `spawn()` fails with an error saying so.
   */
  modules?: Readonly<Record<string, string>> | ModuleResolver;
  /**
   * Origins the guests' `fetch()` may reach, such as `["https://api.example.com"]`, or `["*"]`
   * for any; each request counts against `maxSubrequests` and its response body against
   * `maxValueBytes`. @default [] (fetch() is off)
   */
  allowFetch?: readonly string[];
}

/** Options of one {@link Runtime.run}. */
export interface RunOptions {
  /** File name shown in errors and stack traces; `.ts` sources have their types stripped. @default "guest.js" */
  filename?: string;
  /** Input: the argument of a module's default export, and the global `input` of a script. Must be JSON data. */
  input?: unknown;
  /** Limit overrides for this run only. */
  limits?: LimitOptions;
  /** Called for each line the guest writes to its console (in addition to the runtime's `console` event). */
  onConsole?: (level: ConsoleLevel, text: string) => void;
  /** Aborts the run: it ends with an `AbortedError`. */
  signal?: AbortSignal;
}

/** A soft warning: a run crossed `warnAt` of one of its budgets. */
export interface RuntimeWarning {
  /** Which budget. */
  budget: WarningBudget;
  /** Fraction of the budget used when the warning fired (e.g. 0.91). */
  fraction: number;
  /** The budget's limit, in its unit. */
  limit: number;
  /** The run's file name. */
  filename: string;
  /** Human-readable text. */
  message: string;
}

/** Events of a {@link Runtime}. */
export interface RuntimeEvents {
  warning: [RuntimeWarning];
  console: [{ level: ConsoleLevel; text: string; filename: string }];
}

const BUDGET_LIMIT: Record<WarningBudget, "timeoutMs" | "cpuTimeMs" | "maxInstructions" | "memoryBytes"> = {
  timeout: "timeoutMs",
  cpu: "cpuTimeMs",
  instructions: "maxInstructions",
  memory: "memoryBytes",
};

/**
 * Runs untrusted code under hard limits. Every run starts from a clean global
 * state; sandboxes are pooled. Create with {@link createRuntime}; close with
 * `close()` (or `await using`).
 */
export class Runtime extends EventEmitter<RuntimeEvents> {
  /** The limits every run starts from (before per-run overrides). */
  readonly limits: ResolvedLimits;
  /** The engine's name. */
  readonly engine: EngineName;
  private readonly backend: Engine;
  private readonly facilities: HostFacilities;
  private closed = false;

  /** @internal Use {@link createRuntime}. `owned` are resources the runtime closes with itself. */
  constructor(
    backend: Engine,
    limits: ResolvedLimits,
    facilities: Omit<HostFacilities, "spawn"> = {},
    private readonly owned: { close(): Promise<void> }[] = [],
    private readonly modules?: ModuleResolver,
  ) {
    super();
    this.facilities = { ...facilities, spawn: (request) => this.spawnTask(request) };
    this.backend = backend;
    this.engine = backend.name;
    this.limits = limits;
    this.appHost.engine = backend;
    this.appHost.limits = limits;
  }

  /** Runs a script or an ES module. Never throws for anything the guest does; the result says what happened. */
  async run(source: string, options: RunOptions = {}): Promise<RunResult> {
    return this.runTask(source, options, false);
  }

  /** A run, or (`nested`) a task spawned by a run in flight, which never waits for room in the engine. */
  private async runTask(source: string, options: RunOptions, nested: boolean): Promise<RunResult> {
    if (this.closed) throw new DisposedError("this runtime");
    const filename = options.filename ?? "guest.js";
    const limits = overrideLimits(this.limits, options.limits).values;
    if (options.signal?.aborted)
      return { ok: false, error: new AbortedError("the run was aborted before it started"), usage: emptyUsage() };
    // The source is prepared in the sandbox, off this thread; a syntax error comes back as the run's error.
    let inputJson: string | undefined;
    try {
      inputJson = encodeInput(options.input, limits.maxValueBytes);
    } catch (error) {
      // Nothing a caller passes may surface as a host exception.
      const typed = isWardenError(error) ? error : new EngineError("the input could not be encoded", { cause: error });
      return { ok: false, error: typed, usage: emptyUsage() };
    }
    const refused = this.enterTask(limits.maxConcurrentTasks);
    if (refused) return { ok: false, error: refused, usage: emptyUsage() };
    try {
      const outcome = await this.backend.run({
        ...this.reporter(filename, limits, options.onConsole),
        source,
        filename,
        limits,
        inputJson,
        signal: options.signal,
        nested,
      });
      return parseOutcome(outcome);
    } finally {
      this.activeTasks--;
    }
  }

  /** Runs, warm calls and spawned tasks alive now (what `maxConcurrentTasks` caps). */
  private activeTasks = 0;

  /** Counts a task in, or gives the tasks limit error when the runtime already has `cap` (0/-1: no cap). */
  private enterTask(cap: number): LimitExceededError | undefined {
    if (cap > 0 && this.activeTasks >= cap) return new LimitExceededError({ kind: "tasks", limit: cap });
    this.activeTasks++;
    return undefined;
  }

  /**
   * Runs a guest's `spawn(specifier, input, { limits })`: the module the runtime's resolver
   * names, in a sandbox of its own, under the runtime's limits with the task's overrides, its
   * wall clock within what its parent has left, cancelled with its parent. Resolves to its
   * value as JSON text; rejects with its error (the task cap's error ends the parent too).
   */
  private async spawnTask(request: SpawnRequest): Promise<string> {
    if (!this.modules)
      throw new Error("spawn() is not available: this runtime has no modules (createRuntime({ modules }))");
    const module = await this.modules(request.specifier);
    if (!module) throw new Error(`spawn: no module named ${JSON.stringify(request.specifier)}`);
    // A task starts from its parent's limits (a strict parent cannot spawn relaxed tasks by default).
    const overrides: LimitOptions = { ...request.parentLimits, ...(request.limits as LimitOptions | undefined) };
    const own = overrideLimits(this.limits, overrides).values.timeoutMs;
    // Within what the parent has left (plus a little, so that the parent's own timeout speaks
    // first; the parent's end cancels the task in any case).
    if (request.remainingMs !== undefined && (own <= 0 || own > request.remainingMs)) {
      overrides.timeoutMs = Math.ceil(request.remainingMs) + 50;
    }
    const result = await this.runTask(
      module.source,
      {
        filename: module.filename,
        ...(request.inputJson === undefined ? {} : { input: JSON.parse(request.inputJson) as unknown }),
        limits: overrides,
        signal: request.signal,
      },
      true,
    );
    if (result.ok) return JSON.stringify(result.value) ?? "";
    if (isLimitExceeded(result.error) && result.error.kind === "tasks") throw result.error;
    throw Object.assign(new Error(result.error.message), { name: result.error.name, code: result.error.code });
  }

  /**
   * Loads a module once for many calls: a warm sandbox (see {@link LoadedApp}). The module is
   * evaluated here; a module that fails to evaluate rejects with its typed error.
   */
  async load(source: string, options: LoadOptions = {}): Promise<LoadedApp> {
    if (this.closed) throw new DisposedError("this runtime");
    const app = await LoadedApp.load(this.appHost, source, options);
    if (this.closed) {
      await app.close();
      throw new DisposedError("this runtime");
    }
    this.apps.add(app);
    return app;
  }

  private readonly apps = new Set<LoadedApp>();
  private readonly appHost: AppHost = {
    engine: undefined as never,
    limits: undefined as never,
    reporter: (filename, limits, onConsole) => this.reporter(filename, limits, onConsole),
    enterTask: (cap) => this.enterTask(cap),
    leaveTask: () => void this.activeTasks--,
    closed: (app) => this.apps.delete(app),
  };

  /** Where a run's or call's console lines and warnings go: the caller's callback and the runtime's events. */
  private reporter(
    filename: string,
    limits: LimitValues,
    onConsole?: (level: ConsoleLevel, text: string) => void,
  ): RunReporter {
    return {
      onHostCall: hostCallHandler(this.facilities, limits),
      onConsole: (level, text) => {
        onConsole?.(level, text);
        this.emit("console", { level, text, filename });
      },
      onWarning: (budget, fraction) => {
        const limit = limits[BUDGET_LIMIT[budget]];
        const percent = Math.round(fraction * 100);
        this.emit("warning", {
          budget,
          fraction,
          limit,
          filename,
          message: `${filename} used ${percent}% of its ${budget} budget (${limit})`,
        });
      },
    };
  }

  /** Releases every sandbox. Further runs throw `DisposedError`. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.apps].map((app) => app.close()));
    await this.backend.close();
    await Promise.all(this.owned.map((resource) => resource.close()));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/**
 * Creates a runtime. Limits are resolved once here (defaults < profile <
 * config file < environment < `options.limits`); a bad value throws a
 * `ConfigError` and nothing is created.
 */
export async function createRuntime(options: RuntimeOptions = {}): Promise<Runtime> {
  const limits = resolveLimits({
    ...(options.profile !== undefined ? { profile: options.profile } : {}),
    ...(options.configFile !== undefined ? { configFile: options.configFile } : {}),
    ...(options.env !== undefined ? { env: options.env } : {}),
    ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
    ...(options.limits !== undefined ? { options: options.limits } : {}),
  });
  const namespaces =
    options.datastoreNamespaces === undefined
      ? "*"
      : checkNamespacePolicy(options.datastoreNamespaces, "the option datastoreNamespaces");
  const owned: { close(): Promise<void> }[] = [];
  let store: Datastore | undefined;
  if (typeof options.datastore === "string") {
    store = await createDatastore(options.datastore, { maxDatastoreBytes: limits.values.maxDatastoreBytes });
    owned.push(store);
  } else store = options.datastore;
  try {
    const engine = await createEngine(
      options.engine ?? "v8",
      options.poolSize !== undefined ? { poolSize: options.poolSize } : {},
    );
    const modules =
      typeof options.modules === "function"
        ? options.modules
        : options.modules
          ? mapModules(options.modules)
          : undefined;
    const allowFetch = checkAllowFetch(options.allowFetch);
    return new Runtime(
      engine,
      limits,
      { datastore: store ? { store, namespaces } : undefined, allowFetch },
      owned,
      modules,
    );
  } catch (error) {
    await Promise.all(owned.map((resource) => resource.close()));
    throw error;
  }
}

/**
 * Checks `allowFetch`: `"*"` or origins (`scheme://host[:port]`, no path). A bad entry is a
 * ConfigError naming it and the expected form.
 */
export function checkAllowFetch(value: unknown, source = "the option allowFetch"): readonly string[] {
  if (value === undefined) return [];
  const expected = 'a list of origins such as ["https://api.example.com"], or ["*"] for any';
  if (!Array.isArray(value)) throw new ConfigError({ source, value, expected });
  return value.map((entry: unknown) => {
    if (entry === "*") return "*";
    let origin: string | undefined;
    try {
      const url = new URL(String(entry));
      if ((url.protocol === "http:" || url.protocol === "https:") && url.origin === String(entry).replace(/\/$/, "")) {
        origin = url.origin;
      }
    } catch {
      // not a URL: refused below
    }
    if (origin === undefined) {
      throw new ConfigError({ source, value: entry, expected: `${expected}: scheme, host and port only` });
    }
    return origin;
  });
}
