import { fork, spawn, type ChildProcess, type ForkOptions, type SpawnOptions } from "node:child_process";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { EngineError, LimitExceededError, AbortedError } from "../../errors/index.js";
import {
  emptyUsage,
  leavesInstanceInDoubt,
  resolvePoolSize,
  type Engine,
  type EngineInstance,
  type EngineLoadOutcome,
  type EngineLoadRequest,
  type EngineOptions,
  type EngineRunOutcome,
  type EngineRunRequest,
  type InstanceCallRequest,
  type RunReporter,
} from "../contract.js";
import { RUN_ENDED, answerHostCall, unboundedController } from "../host-calls.js";
import { SANDBOX_V8_FLAGS } from "./flags.js";
import {
  outcomeFromWire,
  type CallMessage,
  type HostMessage,
  type LoadMessage,
  type RunMessage,
  type SandboxMessage,
  type UnloadMessage,
} from "../protocol.js";
import { RUNS_PER_PROCESS } from "./wire.js";

/** Options of the V8 engine. */
export type V8EngineOptions = EngineOptions;

/** How long past its timeout a run may go unanswered before its process is ended. */
const BACKSTOP_GRACE_MS = 2000;
/** How long an aborted run may go unanswered before its process is ended. */
const ABORT_GRACE_MS = 500;

/** Where the sandbox process's entry point is: compiled JavaScript, or TypeScript under tsx in development. */
function childEntry(): { path: string; execArgv: string[] } {
  const typescript = import.meta.url.endsWith(".ts");
  const path = fileURLToPath(new URL(typescript ? "./child.ts" : "./child.js", import.meta.url));
  // isolated-vm on Node 20 needs --no-node-snapshot; the host process does not. The V8 flags turn
  // off the features whose memory the isolate's limit cannot see (flags.ts).
  return {
    path,
    execArgv: ["--no-node-snapshot", ...SANDBOX_V8_FLAGS, ...(typescript ? ["--import", "tsx"] : [])],
  };
}

/**
 * Starts a sandbox process. A fatal V8 error aborts it (an out-of-memory in an isolate its main
 * thread runs, see child.ts): on POSIX systems it starts through the shell with core dumps off, so
 * that a guest cannot fill the disk with them by crashing process after process.
 */
function spawnSandbox(): ChildProcess {
  const entry = childEntry();
  const options: SpawnOptions & ForkOptions = {
    serialization: "advanced",
    // V8 prints its own report of a fatal out-of-memory to stderr; the host does not need it.
    stdio: ["ignore", "ignore", "ignore", "ipc"],
  };
  if (process.platform === "win32") return fork(entry.path, [], { ...options, execArgv: entry.execArgv });
  // `exec` keeps the process (and its pid) the one the host talks to over the inherited channel.
  return spawn(
    "/bin/sh",
    ["-c", 'ulimit -c 0 2>/dev/null; exec "$@"', "warden-sandbox", process.execPath, ...entry.execArgv, entry.path],
    options,
  );
}

interface PendingRun {
  reporter: RunReporter;
  /** The run's value-size limit (host-call answers are checked against it). */
  maxValueBytes: number;
  /** Aborts the run's host calls once it ends (made on its first host call). */
  calls: AbortController | undefined;
  resolve(outcome: EngineRunOutcome): void;
  backstop: NodeJS.Timeout | undefined;
}

/** One sandbox process and the runs it has in flight. */
class SandboxProcess {
  readonly child: ChildProcess;
  readonly ready: Promise<void>;
  readonly pending = new Map<number, PendingRun>();
  /** Warm instances loaded in this process and not closed. */
  instances = 0;
  retired = false;
  exited = false;
  /** True once the process was told to end: from then on it keeps the host alive until it has. */
  ending = false;
  /** True once the process handle and its IPC channel are released. */
  closed = false;

  constructor(private readonly onGone: (process: SandboxProcess) => void) {
    this.child = spawnSandbox();
    this.ready = new Promise<void>((resolve, reject) => {
      const onMessage = (message: SandboxMessage) => {
        if (message.type === "ready") {
          this.child.off("exit", onEarlyExit);
          if (this.pending.size === 0) this.idle();
          resolve();
        }
      };
      const onEarlyExit = (code: number | null, signal: string | null) =>
        reject(new EngineError(`the V8 sandbox process failed to start (exit ${code ?? signal})`));
      this.child.on("message", onMessage);
      this.child.once("exit", onEarlyExit);
    });
    this.ready.catch(() => {});
    this.child.on("message", (message: SandboxMessage) => this.receive(message));
    this.child.on("exit", (code, signal) => this.gone(code, signal));
    this.child.on("close", () => (this.closed = true));
    // A failed send or spawn must never become an unhandled 'error' event in the host.
    this.child.on("error", () => this.kill());
  }

  private receive(message: SandboxMessage): void {
    if (message.type === "retire") {
      this.retired = true;
      if (this.pending.size === 0) this.kill();
      this.onGone(this);
      return;
    }
    if (message.type === "ready" || message.type === "fatal") return;
    const run = this.pending.get(message.id);
    if (!run) return;
    if (message.type === "hostcall") {
      const { id, call, name, args } = message;
      run.calls ??= unboundedController();
      const { signal } = run.calls;
      void answerHostCall(run.reporter.onHostCall, name, args, signal, run.maxValueBytes).then((answer) => {
        if (!signal.aborted)
          this.child.send({ type: "hostreply", id, call, ...answer } satisfies HostMessage, () => {});
      });
    } else if (message.type === "console") run.reporter.onConsole(message.level, message.text);
    else if (message.type === "warning") run.reporter.onWarning(message.budget, message.fraction);
    else if (message.type === "result") this.resolveRun(message.id, outcomeFromWire(message));
  }

  private resolveRun(id: number, outcome: EngineRunOutcome): void {
    const run = this.pending.get(id);
    if (!run) return;
    this.pending.delete(id);
    run.calls?.abort(RUN_ENDED);
    if (run.backstop) clearTimeout(run.backstop);
    run.resolve(outcome);
    if (this.pending.size === 0) {
      if (this.retired) this.kill();
      else this.idle();
    }
  }

  /**
   * An idle process must not keep the host alive; one that is ending must, until its handle and
   * channel are released, or whoever waits for that (engine.close) would be left pending.
   */
  private idle(): void {
    if (this.ending || this.exited) return;
    this.child.unref();
    (this.child.channel as { unref?: () => void } | null | undefined)?.unref?.();
  }

  private busy(): void {
    this.child.ref();
    (this.child.channel as { ref?: () => void } | null | undefined)?.ref?.();
  }

  /**
   * Sends a message that runs guest code (a run, a load, a call) and resolves with its outcome;
   * `reporter` gets its console lines and warnings.
   */
  submit(message: RunMessage | LoadMessage | CallMessage, reporter: RunReporter): Promise<EngineRunOutcome> {
    const { id, limits } = message;
    return new Promise<EngineRunOutcome>((resolve) => {
      const run: PendingRun = {
        reporter,
        maxValueBytes: limits.maxValueBytes,
        calls: undefined,
        resolve,
        backstop: undefined,
      };
      // If the process stops answering (it should never), end it once the run is certainly over.
      if (limits.timeoutMs > 0) {
        run.backstop = setTimeout(() => {
          this.resolveRun(id, {
            ok: false,
            error: new LimitExceededError({ kind: "timeout", limit: limits.timeoutMs }),
            usage: emptyUsage(),
          });
          this.kill();
        }, limits.timeoutMs + BACKSTOP_GRACE_MS);
      }
      this.pending.set(id, run);
      this.busy();
      this.child.send(message, (error) => {
        if (error)
          this.resolveRun(id, {
            ok: false,
            error: new EngineError(`the V8 sandbox process is gone: ${error.message}`),
            usage: emptyUsage(),
          });
      });
    });
  }

  /** Sends a message that needs no answer (unload); a process that is gone needs none either. */
  tell(message: UnloadMessage): void {
    if (!this.exited) this.child.send(message, () => {});
  }

  abort(id: number): void {
    if (!this.pending.has(id)) return;
    this.child.send({ type: "abort", id } satisfies HostMessage, () => {});
    setTimeout(() => {
      if (!this.pending.has(id)) return;
      this.resolveRun(id, { ok: false, error: new AbortedError("the run was aborted"), usage: emptyUsage() });
      this.kill();
    }, ABORT_GRACE_MS).unref();
  }

  kill(): void {
    if (this.exited) return;
    this.ending = true;
    this.busy(); // whoever waits for the exit keeps the host alive until it comes
    this.child.kill("SIGKILL");
  }

  private gone(code: number | null, signal: string | null): void {
    this.exited = true;
    this.busy(); // until 'close': the channel's last messages and the handle's release
    // A fatal V8 error aborts the process: an out-of-memory in an isolate its main thread runs
    // (child.ts), or an array longer than V8 allows.
    const cause =
      signal === "SIGABRT" ? "SIGABRT: a fatal V8 error, such as an out-of-memory" : (signal ?? `exit ${code}`);
    const error = new EngineError(`the V8 sandbox process ended unexpectedly (${cause}); it was replaced`);
    for (const id of [...this.pending.keys()]) this.resolveRun(id, { ok: false, error, usage: emptyUsage() });
    this.onGone(this);
  }
}

/**
 * V8 isolates through isolated-vm, in a pool of sandbox processes. Each
 * process runs an isolate runner (`isolate-runner.ts`): pooled isolates, a
 * fresh context per run, a watchdog for wall-clock and CPU time. Keeping
 * isolates out of the host process is what makes "never crash the host" hold:
 * a guest that provokes a fatal V8 out-of-memory (isolated-vm issues #107,
 * #527) costs one sandbox process, which is replaced, and the host does not
 * need Node's --no-node-snapshot flag.
 */
export class V8Engine implements Engine {
  readonly name = "v8" as const;
  private readonly processes: SandboxProcess[] = [];
  private nextId = 1;
  private closed = false;
  /** Runs handed to a sandbox process and not yet answered, over all processes. */
  private inFlight = 0;
  /**
   * Runs waiting for room, first come first served (a Set keeps insertion order and takes an
   * aborted waiter out in O(1)). Each process takes RUNS_PER_PROCESS runs at a time: more would
   * only make it create and dispose an isolate per extra run, which measured slower (a 64-deep
   * queue ran at 0.7x the throughput of 8) and grew the process to 1.5 GB at 1,000 in flight.
   */
  private readonly waiting = new Set<() => void>();

  private constructor(private readonly size: number) {}

  /** Starts the sandbox processes and waits until they are ready. */
  static async create(options: V8EngineOptions = {}): Promise<V8Engine> {
    const engine = new V8Engine(resolvePoolSize("v8", options.poolSize, availableParallelism()));
    for (let i = 0; i < engine.size; i++) engine.spawn();
    try {
      await Promise.all(engine.processes.map((p) => p.ready));
    } catch (error) {
      await engine.close();
      throw error;
    }
    return engine;
  }

  private spawn(): SandboxProcess {
    const sandbox = new SandboxProcess((gone) => this.replace(gone));
    this.processes.push(sandbox);
    return sandbox;
  }

  private replace(gone: SandboxProcess): void {
    const index = this.processes.indexOf(gone);
    if (index < 0) return;
    this.processes.splice(index, 1);
    if (!this.closed) this.spawn();
  }

  /**
   * The live process with the least work: runs in flight, plus warm instances hosted when `load`
   * (an instance's calls go to its process for its whole life, so instances are spread evenly:
   * loaded one after another, they would otherwise all land in the first idle process).
   */
  private pick(load = false): SandboxProcess {
    let best: SandboxProcess | undefined;
    let bestWork = Infinity;
    for (const candidate of this.processes) {
      if (candidate.retired || candidate.exited) continue;
      const work = candidate.pending.size + (load ? candidate.instances : 0);
      if (work < bestWork) {
        best = candidate;
        bestWork = work;
      }
    }
    return best ?? this.spawn();
  }

  /**
   * Takes room for a run: at once when a process has some (synchronously, so that runs started
   * together cannot all see the same free room), else in turn. False when the run was aborted or
   * the engine closed meanwhile.
   */
  private admit(signal: AbortSignal | undefined): boolean | Promise<boolean> {
    if (signal?.aborted) return false;
    if (this.inFlight < this.processes.length * RUNS_PER_PROCESS && this.waiting.size === 0) {
      this.inFlight++;
      return true;
    }
    return new Promise<boolean>((resolve) => {
      const onAbort = () => {
        this.waiting.delete(wake);
        resolve(false);
      };
      const wake = () => {
        signal?.removeEventListener("abort", onAbort);
        resolve(!this.closed);
      };
      this.waiting.add(wake);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** A run ended: the first waiter takes its room (handed over: the count stays), else the room is free. */
  private release(): void {
    const next = this.waiting.values().next();
    if (next.done) {
      this.inFlight--;
      return;
    }
    this.waiting.delete(next.value);
    next.value();
  }

  async run(request: EngineRunRequest): Promise<EngineRunOutcome> {
    if (this.closed) throw new EngineError("the v8 engine is closed");
    // A spawned task runs beside its parent at once: its parent holds room while it waits for it.
    if (request.nested) return this.runOn(this.pick(), request);
    if (!(await this.admit(request.signal))) {
      if (this.closed) throw new EngineError("the v8 engine is closed");
      return { ok: false, error: new AbortedError("the run was aborted"), usage: emptyUsage() };
    }
    try {
      return await this.runOn(this.pick(), request);
    } finally {
      this.release();
    }
  }

  private runOn(sandbox: SandboxProcess, request: EngineRunRequest): Promise<EngineRunOutcome> {
    const { source, filename, limits, inputJson } = request;
    return this.submitTo(sandbox, request, (id) => ({ type: "run", id, source, filename, limits, inputJson }));
  }

  /** Sends a message to a process once it is ready, with the request's abort signal wired to an abort message. */
  private async submitTo(
    sandbox: SandboxProcess,
    request: RunReporter & { signal?: AbortSignal | undefined },
    message: (id: number) => RunMessage | LoadMessage | CallMessage,
  ): Promise<EngineRunOutcome> {
    try {
      await sandbox.ready;
    } catch (error) {
      return { ok: false, error: error as EngineError, usage: emptyUsage() };
    }
    if (request.signal?.aborted)
      return { ok: false, error: new AbortedError("the run was aborted"), usage: emptyUsage() };
    const id = this.nextId++;
    const onAbort = () => sandbox.abort(id);
    request.signal?.addEventListener("abort", onAbort, { once: true });
    try {
      return await sandbox.submit(message(id), {
        onConsole: request.onConsole,
        onWarning: request.onWarning,
        onHostCall: request.onHostCall,
      });
    } finally {
      request.signal?.removeEventListener("abort", onAbort);
    }
  }

  /**
   * Loads a module into an isolate of its own in the least busy sandbox process. Loads and
   * calls of warm instances do not wait for room: an instance runs one call at a time, and
   * whoever loads instances bounds how many.
   */
  async load(request: EngineLoadRequest): Promise<EngineLoadOutcome> {
    if (this.closed) throw new EngineError("the v8 engine is closed");
    const sandbox = this.pick(true);
    // Counted from the start, so that loads started together spread over the processes (an app
    // growing to 8 instances at once put 7 of them in one process).
    sandbox.instances++;
    const { source, filename, limits } = request;
    let instanceId = 0;
    const outcome = await this.submitTo(sandbox, request, (id) => {
      instanceId = id;
      return { type: "load", id, source, filename, limits };
    });
    if (!outcome.ok) {
      sandbox.instances--;
      return outcome;
    }
    return { ok: true, instance: new V8Instance(this, sandbox, instanceId), usage: outcome.usage };
  }

  /** One call of a warm instance (see {@link V8Instance}). */
  callInstance(sandbox: SandboxProcess, instance: number, request: InstanceCallRequest): Promise<EngineRunOutcome> {
    const { kind, inputJson, limits } = request;
    return this.submitTo(sandbox, request, (id) => ({ type: "call", id, instance, kind, inputJson, limits }));
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const wake of [...this.waiting]) wake();
    this.waiting.clear();
    // 'close' (not 'exit') is when the process handle and its IPC channel are released.
    const exits = this.processes.map(
      (sandbox) =>
        new Promise<void>((resolve) => {
          if (sandbox.closed) resolve();
          else sandbox.child.once("close", () => resolve());
        }),
    );
    for (const sandbox of this.processes) sandbox.kill();
    await Promise.all(exits);
    this.processes.length = 0;
  }
}

/** A warm instance in a V8 sandbox process: an isolate of its own there, one call at a time. */
class V8Instance implements EngineInstance {
  private failed = false;
  private closed = false;

  constructor(
    private readonly engine: V8Engine,
    private readonly sandbox: SandboxProcess,
    private readonly id: number,
  ) {}

  get alive(): boolean {
    return !this.failed && !this.closed && !this.sandbox.exited && !this.sandbox.retired;
  }

  async call(request: InstanceCallRequest): Promise<EngineRunOutcome> {
    if (!this.alive) throw new EngineError("this warm instance was recycled or closed");
    const outcome = await this.engine.callInstance(this.sandbox, this.id, request);
    // The sandbox side disposes such an instance too.
    if (leavesInstanceInDoubt(outcome)) this.failed = true;
    return outcome;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.sandbox.instances--;
    this.sandbox.tell({ type: "unload", instance: this.id });
  }
}
