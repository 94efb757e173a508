import { isScriptError, type WardenError } from "../errors/index.js";
import type { LimitValues } from "../limits/index.js";
import type { HostCallHandler } from "./host-calls.js";

/** The engines Warden can run guests on. */
export type EngineName = "v8" | "quickjs";

/** Every engine name. */
export const ENGINE_NAMES: readonly EngineName[] = ["v8", "quickjs"];

/** Budgets that raise a soft warning when a run crosses `warnAt` of them. */
export type WarningBudget = "timeout" | "cpu" | "instructions" | "memory";

/** Console levels a guest can write at. */
export type ConsoleLevel = "log" | "info" | "debug" | "warn" | "error" | "trace";

/** What a run used. */
export interface Usage {
  /** Wall-clock milliseconds from start to result. */
  wallMs: number;
  /** CPU milliseconds spent running guest code. */
  cpuMs: number;
  /** Instructions spent (function calls + loop iterations). */
  instructions: number;
  /** Highest sandbox memory observed, in bytes (heap + ArrayBuffers). */
  peakMemoryBytes: number;
}

/** The usage of a run that never reached its sandbox (a new object each time: results are the caller's). */
export function emptyUsage(): Usage {
  return { wallMs: 0, cpuMs: 0, instructions: 0, peakMemoryBytes: 0 };
}

/** Options shared by every engine. */
export interface EngineOptions {
  /**
   * How many sandboxes run guests side by side (V8: sandbox processes; QuickJS: worker threads).
   * A positive integer; see {@link resolvePoolSize} for the defaults.
   */
  poolSize?: number;
}

/**
 * Whether a fresh run's code must count calls and loops: only the instruction
 * budget and the depth limit need it (the clocks, memory and the rest are
 * enforced outside the guest's code). Warm instances are always counted: a
 * call may turn on what the load left off.
 */
export function countsCalls(limits: Pick<LimitValues, "maxInstructions" | "maxRecursionDepth">): boolean {
  return limits.maxInstructions > 0 || limits.maxRecursionDepth > 0;
}

/**
 * The pool size an engine uses: the option when given (a positive integer,
 * else a RangeError naming the value), else the engine's default. V8 defaults
 * to at most 2 sandbox processes (each runs isolates on threads of its own, and
 * a process costs tens of MB); QuickJS to one worker thread per CPU.
 */
export function resolvePoolSize(engine: EngineName, poolSize: number | undefined, cpus: number): number {
  if (poolSize === undefined) return engine === "v8" ? Math.min(2, cpus) : cpus;
  if (!Number.isInteger(poolSize) || poolSize < 1) {
    throw new RangeError(`poolSize must be a positive integer, got ${String(poolSize)} (${typeof poolSize})`);
  }
  return poolSize;
}

/**
 * How many warm instances a loaded app may run calls on in parallel when it does not say. A call
 * spends most of its time crossing to its sandbox and back (V8: two processes and isolated-vm's
 * thread, ~300 µs, of which the guest's own work is a small part; QuickJS: a worker thread's
 * messages), so instances beyond the number of CPUs keep the CPUs busy: measured on 2 CPUs, warm
 * calls/s with 64 in flight went 5.4k -> 9.1k on V8 from 2 to 8 instances, and 12.7k -> 14.9k on
 * QuickJS from 2 to 4 (8 QuickJS threads on 2 CPUs were slower again). Extra instances are loaded
 * only while calls wait for one, so a quiet app keeps one; each costs its memory (~3.4 MiB for a
 * V8 isolate, ~19 MiB for a QuickJS worker thread and its WebAssembly heap). V8: 4 per CPU, at
 * most 16; QuickJS: 2 per CPU, at most 8.
 */
export function defaultInstances(engine: EngineName, cpus: number): number {
  return engine === "v8" ? Math.min(16, 4 * cpus) : Math.min(8, 2 * cpus);
}

/**
 * Wraps a warning callback so that each budget warns at most once per run
 * (the watchdog, the prelude and the end-of-run memory check may all notice).
 */
export function warnOncePerBudget(
  onWarning: (budget: WarningBudget, fraction: number) => void,
): (budget: WarningBudget, fraction: number) => void {
  const warned = new Set<WarningBudget>();
  return (budget, fraction) => {
    if (warned.has(budget)) return;
    warned.add(budget);
    onWarning(budget, fraction);
  };
}

/** Where what a run's guest says goes: console lines and budget warnings (the one name for it in every engine). */
export interface RunReporter {
  /** Guest console output, one formatted line per call (already size-checked). */
  onConsole(level: ConsoleLevel, text: string): void;
  /** A budget crossed its warning threshold (once per budget per run). */
  onWarning(budget: WarningBudget, fraction: number): void;
  /** Serves the guest's host calls (datastore, spawn...); without it, each fails with an error naming the facility. */
  onHostCall?: HostCallHandler | undefined;
}

/** One run, as the runtime hands it to an engine. */
export interface EngineRunRequest extends RunReporter {
  /** The user's source. The sandbox prepares it (off the host's thread; see `protocol.ts`). */
  source: string;
  /** The user's file name (stack traces, module name, TypeScript detection). */
  filename: string;
  /** Effective limits of this run. */
  limits: LimitValues;
  /** The input as JSON text (already size-checked), or undefined for none. */
  inputJson: string | undefined;
  /** Stops the run at once when aborted; the run then ends with an `AbortedError`. */
  signal?: AbortSignal | undefined;
  /**
   * A task spawned by a run in flight: it never waits for room in the engine's pool, since its
   * parent holds some while it waits for the task (waiting would deadlock a full pool). The
   * runtime's task cap bounds how many there are.
   */
  nested?: boolean | undefined;
}

/** What an engine hands back. `json` is the result as JSON text; empty means `undefined`. */
export type EngineRunOutcome =
  { ok: true; json: string; usage: Usage } | { ok: false; error: WardenError; usage: Usage };

/** A module to load into a sandbox of its own, evaluated once (engine contract {@link Engine.load}). */
export interface EngineLoadRequest extends RunReporter {
  /** The module's source (an ES module; TypeScript when the file name says so). */
  source: string;
  /** The module's file name. */
  filename: string;
  /** Limits of the module's evaluation; its memory limit is the instance's for its whole life. */
  limits: LimitValues;
  /** Gives up the load when aborted. */
  signal?: AbortSignal | undefined;
}

/** How a warm instance is called: `call` runs `export default function (input)`; `fetch` runs a Workers-style `fetch(request, env, ctx)`. */
export type InstanceCallKind = "call" | "fetch";

/** One call of a warm instance. */
export interface InstanceCallRequest extends RunReporter {
  kind: InstanceCallKind;
  /**
   * `call`: the input as JSON text (already size-checked; empty for `undefined`).
   * `fetch`: the request as JSON text, see {@link FetchDescription}.
   */
  inputJson: string;
  /** Budgets of this call (its memory limit is the instance's, fixed at load). */
  limits: LimitValues;
  /** Stops the call at once when aborted; the call then ends with an `AbortedError` and the instance is recycled. */
  signal?: AbortSignal | undefined;
}

/** A request as it crosses into a sandbox for a `fetch` call; a response comes back in the same shape in the call's JSON result. */
export interface FetchDescription {
  method: string;
  url: string;
  headers: [string, string][];
  /** The body as base64, or null for none. */
  body: string | null;
  /** The `env` argument of `fetch(request, env, ctx)`: plain JSON data. */
  env?: Record<string, unknown>;
}

/** A response as it comes back from a sandbox's `fetch` call (the call's JSON result). */
export interface FetchAnswer {
  status: number;
  statusText: string;
  headers: [string, string][];
  /** The body as base64. */
  body: string;
}

/**
 * A module loaded once in a sandbox of its own, called many times. Its state
 * persists between calls. One call at a time: a caller that wants parallel
 * calls loads several instances.
 */
export interface EngineInstance {
  /** Runs one call under its budgets. Never throws for guest behaviour; returns a typed error. */
  call(request: InstanceCallRequest): Promise<EngineRunOutcome>;
  /** False once the instance can take no more calls: a call hit a limit, was aborted, or its sandbox died. */
  readonly alive: boolean;
  /** Releases the instance's sandbox. Safe to call twice. */
  close(): Promise<void>;
}

/**
 * True when a warm call's outcome leaves its instance in doubt, so that the instance must be
 * recycled: any failure but the guest's own exception (a limit, an abort, an engine failure).
 */
export function leavesInstanceInDoubt(outcome: EngineRunOutcome): boolean {
  return !outcome.ok && !isScriptError(outcome.error);
}

/** What {@link Engine.load} hands back. */
export type EngineLoadOutcome =
  { ok: true; instance: EngineInstance; usage: Usage } | { ok: false; error: WardenError; usage: Usage };

/** A sandbox engine. Both engines honour the same limits with the same errors. */
export interface Engine {
  /** Which engine this is. */
  readonly name: EngineName;
  /** Runs one prepared source under its limits. Never throws for guest behaviour; returns a typed error. */
  run(request: EngineRunRequest): Promise<EngineRunOutcome>;
  /** Loads a module into a sandbox of its own, for many calls. Never throws for guest behaviour. */
  load(request: EngineLoadRequest): Promise<EngineLoadOutcome>;
  /** Releases every sandbox the engine holds. */
  close(): Promise<void>;
}
