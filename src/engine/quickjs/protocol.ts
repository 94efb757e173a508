/**
 * What the QuickJS engine's main thread and its worker threads share besides
 * the message protocol (`../protocol.ts`): the data a worker starts with, the
 * control block in shared memory, and the worker-internal shapes of a run.
 */
import type { LimitValues } from "../../limits/index.js";
import type { MessagePort } from "node:worker_threads";
import type { PreparedSource } from "../../transform/index.js";
import type { HostCallAnswer } from "../host-calls.js";

/** One run, as the worker plans it from the host's {@link RunMessage}: what the sandbox needs to run it. */
export interface RunPlan {
  /** Run id, unique per worker. */
  id: number;
  /** The prepared (instrumented) source. */
  prepared: PreparedSource;
  /** Effective limits of the run. */
  limits: LimitValues;
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

/** Data every worker starts with. */
export interface WorkerStartData {
  /** The control block shared with the main thread (see {@link controlBlock}). */
  control: SharedArrayBuffer;
  /** Where the main thread posts host calls' answers ({@link HostReply}); read with `receiveMessageOnPort`. */
  replies: MessagePort;
  /** QuickJS's own stack limit, in bytes. */
  maxStackBytes: number;
  /** The compiled QuickJS `WebAssembly.Module`, shared by every worker of the process. */
  wasmModule: object;
}

/**
 * The control block of a worker's current run, in shared memory. The worker
 * writes `clock` (`[sampledAtEpochMs, cpuMsAtSample]`) whenever it samples its
 * CPU clock, so that the main thread's last-resort watchdog can bound the CPU
 * a stuck worker has used without asking it. The main thread sets `abort[0]`
 * (and notifies it) to ask the worker to stop the guest: the interrupt
 * handler reads it while the guest runs. The main thread sets `mail[0]` (and
 * notifies it) after it posts a host call's answer on the reply port: a worker
 * whose guest waits for host calls or timers sleeps on it with `Atomics.wait`.
 */
export interface ControlBlock {
  clock: Float64Array;
  abort: Int32Array;
  mail: Int32Array;
}

/** Slots of {@link ControlBlock.clock}. */
export const CLOCK_SAMPLED_AT = 0;
export const CLOCK_CPU_MS = 1;

const CLOCK_BYTES = 2 * Float64Array.BYTES_PER_ELEMENT;

/** Bytes of the shared buffer behind a {@link ControlBlock}. */
export const CONTROL_BYTES = CLOCK_BYTES + 2 * Int32Array.BYTES_PER_ELEMENT;

/** The views of a control block's shared buffer. */
export function controlBlock(buffer: SharedArrayBuffer): ControlBlock {
  return {
    clock: new Float64Array(buffer, 0, 2),
    abort: new Int32Array(buffer, CLOCK_BYTES, 1),
    mail: new Int32Array(buffer, CLOCK_BYTES + Int32Array.BYTES_PER_ELEMENT, 1),
  };
}

/** A host call's answer, as the main thread posts it on a worker's reply port. */
export interface HostReply extends HostCallAnswer {
  /** The run, load or call that made the host call. */
  id: number;
  /** The host call's id within it. */
  call: number;
}

/** Milliseconds since the epoch, comparable between threads. */
export function epochMs(): number {
  return performance.timeOrigin + performance.now();
}
