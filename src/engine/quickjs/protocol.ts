/**
 * Messages between the QuickJS engine (main thread) and its worker threads.
 * Everything that crosses is plain data: strings and numbers only, so no
 * guest value is ever structured-cloned into the host.
 */
import type { ConsoleLevel, WarningBudget } from "../contract.js";

/** One run, as the engine hands it to a worker. */
export interface RunMessage {
  type: "run";
  /** Run id, unique per worker. */
  id: number;
  /** Instrumented source. */
  code: string;
  /** The user's file name (stack traces, module name). */
  filename: string;
  /** The user's original source: prepared again in the worker only if the guest asks for a function's text. */
  source: string;
  kind: "script" | "module";
  /** True when the script's completion value is already the prelude's finish promise (`__wardenFinish(...)`). */
  finishesItself: boolean;
  /** The prelude's per-run configuration (`globalThis.__wardenRun`), as JSON text. */
  config: string;
  /** Wall-clock budget in ms; 0 or less: none. */
  timeoutMs: number;
  /** CPU budget in ms; 0 or less: none. */
  cpuTimeMs: number;
  /** Fraction of a budget at which a warning fires; 0 or less: none. */
  warnAt: number;
  /** Heap budget of the run in bytes (always positive: the engine substitutes its ceiling for "no limit"). */
  memoryBytes: number;
  /** True when `memoryBytes` is a configured limit (warnings apply), false for the engine ceiling. */
  memoryConfigured: boolean;
}

/** Main thread -> worker. */
export type ParentMessage = RunMessage;

/** A guest error as the worker read it: name, message, and a V8-style stack (`Name: message\n    at ...`). */
export interface ReportedError {
  name: string;
  message: string;
  stack: string;
}

/** A budget the worker's interrupt handler enforced. */
export interface ReportedTrip {
  kind: "timeout" | "cpu";
  limit: number;
  observed: number;
}

/** How a run ended, seen from inside the worker. */
export type RunEnding =
  /** The prelude's `finish` answer: status line, newline, result JSON. */
  | { ending: "finished"; finish: string }
  /** The guest threw or rejected; `status` is the prelude's status (it may say a limit tripped). */
  | { ending: "threw"; status: string; error: ReportedError }
  /** The interrupt handler stopped the guest. */
  | { ending: "tripped"; status: string; trip: ReportedTrip }
  /** The main thread asked the worker to stop the guest (the run's AbortSignal fired). */
  | { ending: "aborted"; status: string }
  /** Nothing is left to run and the result promise is still pending: it can never settle. */
  | { ending: "stalled"; status: string }
  /** The result settled, but jobs the guest left queued then tripped a limit (`status` says which). */
  | { ending: "dead"; status: string }
  /** An allocation failed for want of heap budget (out of memory is terminal, whatever the guest did next). */
  | { ending: "out_of_memory"; status: string }
  /**
   * The host side of the run failed: a RangeError from V8's own stack (a
   * native recursion QuickJS did not stop in time), a WebAssembly trap. The
   * module instance was replaced; the worker goes on.
   */
  | { ending: "crashed"; name: string; message: string };

/** What a run used, as measured inside the worker. */
export interface ReportedUsage {
  /** CPU time of the worker thread during the run, in ms. */
  cpuMs: number;
  /** Heap bytes of the sandbox: the larger of the QuickJS heap in use at the end and what the run grew the heap by. */
  peakMemoryBytes: number;
}

/** Worker -> main thread. */
export type WorkerMessage =
  | { type: "ready" }
  | { type: "log"; id: number; level: ConsoleLevel; text: string }
  | { type: "warn"; id: number; budget: WarningBudget; fraction: number }
  | { type: "done"; id: number; result: RunEnding; usage: ReportedUsage }
  /**
   * The worker cannot go on (no working QuickJS module could be made); it
   * exits right after sending this. `id` is the run it was busy with, if any.
   */
  | { type: "fatal"; id: number | undefined; name: string; message: string };

/** Data every worker starts with. */
export interface WorkerStartData {
  /**
   * Shared with the main thread: `[sampledAtEpochMs, cpuMsAtSample, abort]`
   * of the current run. The worker writes the first two whenever it samples
   * its CPU clock, so that the main thread's last-resort watchdog can bound
   * the CPU a stuck worker has used without asking it; the main thread sets
   * the third to ask the interrupt handler to stop the guest.
   */
  control: SharedArrayBuffer;
  /** QuickJS's own stack limit, in bytes. */
  maxStackBytes: number;
  /** The compiled QuickJS `WebAssembly.Module`, shared by every worker of the process. */
  wasmModule: object;
}

/** Indexes into the control block. */
export const CONTROL_SAMPLED_AT = 0;
export const CONTROL_CPU_MS = 1;
export const CONTROL_ABORT = 2;
export const CONTROL_SLOTS = 3;

/** Milliseconds since the epoch, comparable between threads. */
export function epochMs(): number {
  return performance.timeOrigin + performance.now();
}
