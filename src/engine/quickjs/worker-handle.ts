import { MessageChannel, Worker, type MessagePort } from "node:worker_threads";
import { RUN_ENDED, answerHostCall, unboundedController } from "../host-calls.js";
import type { RunReporter, Usage } from "../contract.js";
import type { CallMessage, LoadMessage, RunMessage, SandboxMessage, WireOutcome } from "../protocol.js";
import {
  CLOCK_CPU_MS,
  CLOCK_SAMPLED_AT,
  CONTROL_BYTES,
  controlBlock,
  epochMs,
  type ControlBlock,
  type HostReply,
  type WorkerStartData,
} from "./protocol.js";

/** How a run on a worker ended, seen from the main thread. */
export type WorkerOutcome =
  /** The worker answered the run. */
  | { type: "done"; outcome: WireOutcome }
  /** The run's result can never settle; the worker is free (see the `stalled` message). */
  | { type: "stalled"; usage: Usage }
  /** The worker failed for good and exited (see the worker entry). */
  | { type: "fatal"; name: string; message: string }
  /** The worker failed before it started this run: the run can go to another worker. */
  | { type: "lost" }
  /** The worker went away: terminated by the engine, or it died. */
  | { type: "exited"; reason: string };

/** A message that runs guest code, before the worker handle gives it its id. */
export type WorkerRequest = Omit<RunMessage, "id"> | Omit<LoadMessage, "id"> | Omit<CallMessage, "id">;

/** Options of every QuickJS worker. */
export interface WorkerOptions {
  /** V8 stack of the worker thread, in MiB. */
  stackSizeMb: number;
  /** QuickJS's own stack limit, in bytes. */
  maxStackBytes: number;
  /** The compiled QuickJS WebAssembly module. */
  wasmModule: object;
}

/**
 * The worker script. Built, it is `worker.js` next to this module. Run from
 * TypeScript sources (the tests, with tsx), it is `worker.ts`; Node 20 does
 * not carry module hooks such as tsx's into worker threads, so the worker
 * starts from a small bootstrap that registers tsx, then imports it.
 */
function workerScript(): { script: string | URL; eval: boolean } {
  if (!import.meta.url.endsWith(".ts")) return { script: new URL("./worker.js", import.meta.url), eval: false };
  const entry = new URL("./worker.ts", import.meta.url).href;
  const tsx = import.meta.resolve("tsx/esm/api");
  return {
    script: `import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(entry)}); });`,
    eval: true,
  };
}

/** Runs a host callback; a callback that throws must not take the worker's message handling down with it. */
function guard(callback: () => void): void {
  try {
    callback();
  } catch {
    // The host's own console or warning listener failed; the run goes on.
  }
}

/**
 * The main thread's handle on one QuickJS worker: one run at a time. The
 * worker does not keep the process alive while it is idle.
 */
export class QuickJSWorker {
  private readonly worker: Worker;
  /** The control block of the run in flight (see {@link ControlBlock}). */
  private readonly control: ControlBlock;
  /** Resolves when the worker has loaded QuickJS; rejects if it could not. */
  readonly ready: Promise<void>;
  private nextId = 1;
  private pending:
    | {
        id: number;
        listener: RunReporter;
        resolve: (outcome: WorkerOutcome) => void;
        /** Aborts the run's host calls once it ends (made on its first host call). */
        calls: AbortController | undefined;
        maxValueBytes: number;
      }
    | undefined;
  /** Where host calls' answers go to the worker (see {@link HostReply}). */
  private readonly replies: MessagePort;
  private fatal: { name: string; message: string } | undefined;
  private exited = false;
  private terminating = false;

  constructor(options: WorkerOptions) {
    const control = new SharedArrayBuffer(CONTROL_BYTES);
    this.control = controlBlock(control);
    const { script, eval: isSource } = workerScript();
    const { port1, port2 } = new MessageChannel();
    this.replies = port1;
    const workerData: WorkerStartData = {
      control,
      replies: port2,
      maxStackBytes: options.maxStackBytes,
      wasmModule: options.wasmModule,
    };
    this.worker = new Worker(script, {
      eval: isSource,
      workerData,
      transferList: [port2],
      resourceLimits: { stackSizeMb: options.stackSizeMb },
    });
    let markReady: () => void = () => {};
    let markFailed: (error: Error) => void = () => {};
    this.ready = new Promise<void>((resolve, reject) => {
      markReady = resolve;
      markFailed = reject;
    });
    this.ready.catch(() => {});
    this.worker.on("message", (message: SandboxMessage) => {
      switch (message.type) {
        case "ready":
          this.worker.unref();
          markReady();
          return;
        case "console":
          if (this.pending?.id === message.id) {
            const { listener } = this.pending;
            guard(() => listener.onConsole(message.level, message.text));
          }
          return;
        case "warning":
          if (this.pending?.id === message.id) {
            const { listener } = this.pending;
            guard(() => listener.onWarning(message.budget, message.fraction));
          }
          return;
        case "result":
          if (this.pending?.id === message.id) {
            const outcome: WireOutcome = message.ok
              ? { ok: true, json: message.json, usage: message.usage }
              : { ok: false, error: message.error, usage: message.usage };
            this.finishRun({ type: "done", outcome });
          }
          return;
        case "hostcall":
          if (this.pending?.id === message.id) this.answerHostCall(message);
          return;
        case "stalled":
          if (this.pending?.id === message.id) this.finishRun({ type: "stalled", usage: message.usage });
          return;
        case "fatal":
          this.fatal = { name: message.name, message: message.message };
          markFailed(new Error(`the QuickJS worker failed: ${message.name}: ${message.message}`));
          if (this.pending && this.pending.id !== message.id) this.finishRun({ type: "lost" });
          else this.finishRun({ type: "fatal", ...this.fatal });
          return;
      }
    });
    this.worker.on("error", (error) => {
      this.fatal ??= { name: error.name, message: error.message };
      markFailed(error);
    });
    this.worker.on("exit", (code) => {
      this.exited = true;
      this.replies.close();
      markFailed(new Error(`the QuickJS worker exited with code ${code}`));
      if (this.fatal && !this.terminating) this.finishRun({ type: "fatal", ...this.fatal });
      else this.finishRun({ type: "exited", reason: this.terminating ? "terminated" : `exit code ${code}` });
    });
  }

  /** True while the worker can take runs. */
  get alive(): boolean {
    return !this.exited && !this.terminating && this.fatal === undefined;
  }

  /** True while a run is in flight. */
  get busy(): boolean {
    return this.pending !== undefined;
  }

  /**
   * Upper bound of the CPU time the run in flight has used: the last sample
   * the worker published, plus all wall time since (a thread cannot use more
   * CPU than that). A worker stuck in one native call publishes nothing, and
   * this grows at wall-clock speed.
   */
  cpuBoundMs(): number {
    const { clock } = this.control;
    return clock[CLOCK_CPU_MS]! + Math.max(0, epochMs() - clock[CLOCK_SAMPLED_AT]!);
  }

  /** Sends a message that runs guest code (one at a time); resolves with how it ended. */
  submit(message: WorkerRequest, listener: RunReporter): Promise<WorkerOutcome> {
    if (this.pending) throw new Error("the QuickJS worker is busy");
    if (!this.alive) return Promise.resolve({ type: "exited", reason: "the worker is gone" });
    const id = this.nextId++;
    this.control.clock[CLOCK_SAMPLED_AT] = epochMs();
    this.control.clock[CLOCK_CPU_MS] = 0;
    Atomics.store(this.control.abort, 0, 0);
    return new Promise<WorkerOutcome>((resolve) => {
      this.pending = {
        id,
        listener,
        resolve,
        calls: undefined,
        maxValueBytes: message.limits.maxValueBytes,
      };
      this.worker.ref();
      this.worker.postMessage({ ...message, id } as RunMessage | LoadMessage | CallMessage);
    });
  }

  /** Asks the worker to stop the guest of the run in flight (its interrupt handler, or its wait on a stalled run). */
  abort(): void {
    Atomics.store(this.control.abort, 0, 1);
    Atomics.notify(this.control.abort, 0);
  }

  /** Serves a host call of the run in flight and wakes the worker with the answer. */
  private answerHostCall(message: Extract<SandboxMessage, { type: "hostcall" }>): void {
    const pending = this.pending!;
    const { id, call, name, args } = message;
    pending.calls ??= unboundedController();
    const { signal } = pending.calls;
    void answerHostCall(pending.listener.onHostCall, name, args, signal, pending.maxValueBytes).then((answer) => {
      if (signal.aborted || this.exited) return;
      this.replies.postMessage({ id, call, ...answer } satisfies HostReply);
      Atomics.store(this.control.mail, 0, 1);
      Atomics.notify(this.control.mail, 0);
    });
  }

  private finishRun(outcome: WorkerOutcome): void {
    const pending = this.pending;
    this.pending = undefined;
    pending?.calls?.abort(RUN_ENDED);
    if (!this.exited && !this.terminating) this.worker.unref();
    pending?.resolve(outcome);
  }

  /** Stops the worker at once, whatever it is doing. */
  async terminate(): Promise<void> {
    if (this.exited) return;
    this.terminating = true;
    await this.worker.terminate();
  }
}
