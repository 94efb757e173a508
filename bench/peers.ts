/**
 * Raw-engine peers and process helpers for the throughput and memory
 * benchmarks: raw isolated-vm on N isolates (a fresh context per run, the
 * script compiled once per isolate), raw quickjs-emscripten on N worker
 * threads (a fresh runtime and context per run), and RSS readings from /proc.
 * isolated-vm is imported lazily, so that a process that only measures Warden
 * never loads it.
 */
import { readFileSync, readdirSync } from "node:fs";
import { Worker } from "node:worker_threads";
import type ivm from "isolated-vm";
import { QUICKJS_STACK_BYTES, WORKER_STACK_MB } from "../src/engine/quickjs/engine.js";
import { createRuntime } from "../src/index.js";

/** The trivial run. */
export const TRIVIAL = "1+1";

/**
 * A small realistic run: shape a few records, group them, sort and serialise
 * the summary (463 instructions, calls and loop iterations, as Warden counts). Its completion
 * value is a string, so each engine really does the work.
 */
export const SMALL = String.raw`
const orders = [];
for (let i = 0; i < 200; i++) orders.push({ id: i, user: "u" + (i % 17), total: (i * 7919) % 500, paid: i % 3 !== 0 });
const byUser = {};
for (const order of orders) {
  if (!order.paid) continue;
  const entry = (byUser[order.user] ??= { user: order.user, count: 0, sum: 0 });
  entry.count++;
  entry.sum += order.total;
}
const top = Object.values(byUser).sort((a, b) => b.sum - a.sum || a.user.localeCompare(b.user)).slice(0, 5);
JSON.stringify(top.map((e) => ({ ...e, mean: Math.round(e.sum / e.count) })));
`;

/** Something that runs a source and resolves to its completion value. */
export interface Runner {
  run(source: string): Promise<unknown>;
  close(): Promise<void>;
}

interface RawIsolate {
  isolate: ivm.Isolate;
  scripts: Map<string, ivm.Script>;
  inFlight: number;
}

/**
 * Runs handed to one raw isolate at a time. isolated-vm queues async calls on
 * the isolate's thread, so a few in flight keep it busy; many more only hold
 * contexts alive (1,000 contexts exhaust a 50 MB heap and the isolate is
 * disposed). The rest wait in a FIFO on the host, as any raw deployment would.
 */
/** Warden with its defaults as a {@link Runner}: a failed run is an error, not a figure. */
export async function wardenRunner(engine: "v8" | "quickjs"): Promise<Runner> {
  const runtime = await createRuntime({ engine, env: {}, configFile: false });
  return {
    async run(source) {
      const result = await runtime.run(source);
      if (!result.ok) throw result.error;
      return result.value;
    },
    close: () => runtime.close(),
  };
}

export const RAW_IVM_PER_ISOLATE = 8;

/** Raw isolated-vm: `count` warm isolates, a fresh context per run, each run on the least busy isolate. */
export async function rawIsolatedVm(count: number, memoryMb: number): Promise<Runner> {
  const { default: ivmModule } = await import("isolated-vm");
  const isolates: RawIsolate[] = [];
  for (let i = 0; i < count; i++) {
    isolates.push({ isolate: new ivmModule.Isolate({ memoryLimit: memoryMb }), scripts: new Map(), inFlight: 0 });
  }
  // A semaphore of count * RAW_IVM_PER_ISOLATE slots; a finished run hands its slot to the next waiter.
  const waiting: (() => void)[] = [];
  let head = 0;
  let active = 0;
  const leastBusy = () => {
    let target = isolates[0]!;
    for (const candidate of isolates) if (candidate.inFlight < target.inFlight) target = candidate;
    return target;
  };
  return {
    async run(source) {
      if (active < count * RAW_IVM_PER_ISOLATE) active++;
      else await new Promise<void>((resolve) => waiting.push(resolve));
      const target = leastBusy();
      target.inFlight++;
      try {
        let script = target.scripts.get(source);
        if (!script) {
          script = await target.isolate.compileScript(source);
          target.scripts.set(source, script);
        }
        const context = await target.isolate.createContext();
        try {
          return await script.run(context, { copy: true });
        } finally {
          context.release();
        }
      } finally {
        target.inFlight--;
        if (head < waiting.length) {
          waiting[head++]!();
          if (head > 1024 && head * 2 > waiting.length) {
            waiting.splice(0, head);
            head = 0;
          }
        } else active--;
      }
    },
    async close() {
      for (const { isolate } of isolates) if (!isolate.isDisposed) isolate.dispose();
    },
  };
}

/** The raw QuickJS worker: a fresh runtime and context per run, the same heap and stack limits as Warden's. */
function rawQuickJSWorkerSource(): string {
  const quickjs = import.meta.resolve("quickjs-emscripten");
  return `
const { parentPort, workerData } = require("node:worker_threads");
import(${JSON.stringify(quickjs)}).then(async ({ newQuickJSWASMModule }) => {
  const module = await newQuickJSWASMModule();
  parentPort.on("message", ({ id, source }) => {
    const runtime = module.newRuntime();
    runtime.setMemoryLimit(workerData.memoryBytes);
    runtime.setMaxStackSize(workerData.stackBytes);
    const context = runtime.newContext();
    const result = context.evalCode(source, "raw.js", { type: "global" });
    const ok = !result.error;
    const value = context.dump(result.error ?? result.value);
    (result.error ?? result.value).dispose();
    context.dispose();
    runtime.dispose();
    parentPort.postMessage({ id, ok, value });
  });
  parentPort.postMessage({ id: 0 });
});
`;
}

interface RawThread {
  worker: Worker;
  pending: Map<number, { resolve(value: unknown): void; reject(error: Error): void }>;
}

/** Raw quickjs-emscripten on `count` worker threads, each run posted to the least busy thread. */
export async function rawQuickJSThreads(count: number, memoryBytes: number): Promise<Runner> {
  const source = rawQuickJSWorkerSource();
  let nextId = 1;
  const threads = await Promise.all(
    Array.from({ length: count }, async (): Promise<RawThread> => {
      const worker = new Worker(source, {
        eval: true,
        workerData: { memoryBytes, stackBytes: QUICKJS_STACK_BYTES },
        resourceLimits: { stackSizeMb: WORKER_STACK_MB },
      });
      const thread: RawThread = { worker, pending: new Map() };
      await new Promise<void>((resolve, reject) => {
        worker.once("error", reject);
        worker.once("message", () => resolve());
      });
      worker.on("message", (message: { id: number; ok: boolean; value: unknown }) => {
        const waiter = thread.pending.get(message.id);
        thread.pending.delete(message.id);
        if (message.ok) waiter?.resolve(message.value);
        else waiter?.reject(new Error(`raw QuickJS run failed: ${JSON.stringify(message.value)}`));
      });
      return thread;
    }),
  );
  return {
    run(text) {
      let target = threads[0]!;
      for (const candidate of threads) if (candidate.pending.size < target.pending.size) target = candidate;
      const id = nextId++;
      return new Promise((resolve, reject) => {
        target.pending.set(id, { resolve, reject });
        target.worker.postMessage({ id, source: text });
      });
    },
    async close() {
      await Promise.all(threads.map((thread) => thread.worker.terminate()));
    },
  };
}

/** Resident set size of a process in bytes (VmRSS), or 0 when it is gone. */
export function rssBytes(pid: number | "self"): number {
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** The direct child processes of a process, from /proc/<pid>/task/<tid>/children. */
export function childPids(pid: number): number[] {
  const pids: number[] = [];
  try {
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      const text = readFileSync(`/proc/${pid}/task/${task}/children`, "utf8").trim();
      if (text) pids.push(...text.split(/\s+/).map(Number));
    }
  } catch {
    // The process or one of its threads went away while being read.
  }
  return pids;
}

/** The command line of a process (its arguments joined by spaces), or "" when it is gone. */
export function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ");
  } catch {
    return "";
  }
}

/** Formats bytes as MiB with one decimal. */
export function mib(bytes: number): string {
  return (bytes / 2 ** 20).toFixed(1);
}
