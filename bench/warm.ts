/**
 * Warm sandboxes (`runtime.load` + `app.call` / `app.fetch`), side by side with
 * the raw engines' warm calls in the same process and the same run:
 * (a) sequential `app.call(i)` of `export default (x) => x + 1`, p50/p99 in µs:
 * Warden v8 vs raw isolated-vm `reference.apply` on a warm context (an isolate
 * made once, in this process) and vs the same behind a process boundary (the
 * isolate in a child process, one `process.send` each way: the floor of keeping
 * isolates out of the host, as Warden does), and Warden v8 again under a 50 ms CPU budget (its
 * short calls then run synchronously in the sandbox process), Warden quickjs vs raw quickjs-emscripten
 * `context.callFunction` on a warm context on this thread;
 * (b) calls/s with 64 calls in flight: Warden v8 and Warden quickjs (the
 * engine's default instances) vs the raw peers at their best configuration here (raw
 * isolated-vm on 1 and on N isolates, and in 1 and N child processes; raw quickjs-emscripten on this thread,
 * and on 1 and N worker threads);
 * (c) `app.fetch` requests/s, sequential and with 64 in flight, for a small
 * Workers-style app, vs the same module's `fetch` run in the host itself (no
 * sandbox: the floor of the host's own Request/Response work).
 * Every point is bounded in calls and time; the suite takes about 15 s.
 * Run with `npm run bench -- warm` (isolated-vm needs `--no-node-snapshot`,
 * which `npm run bench` passes).
 */
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import ivm from "isolated-vm";
import { newQuickJSWASMModule } from "quickjs-emscripten";
import { createRuntime, type LoadedApp, type Runtime } from "../src/index.js";
import { QUICKJS_STACK_BYTES, WORKER_STACK_MB } from "../src/engine/quickjs/engine.js";
import { defaultInstances } from "../src/engine/index.js";
import { percentile, printTable } from "./stats.js";
import { rawIsolatedVmProcesses } from "./ivm-process.js";

/** The warm call's guest. */
export const INCREMENT = "export default (x) => x + 1;";
/** The same function as an expression, for the raw engines. */
const INCREMENT_EXPRESSION = "(x) => x + 1";

/**
 * A small Workers-style app: a router on the URL's path, a JSON body read and
 * echoed, a path parameter and a query parameter, headers set on the way out,
 * and module state that persists between requests.
 */
export const WORKERS_APP = String.raw`
let served = 0;
export default {
  async fetch(request, env, ctx) {
    served++;
    const url = new URL(request.url);
    if (request.method === "POST" && url.pathname === "/echo") {
      const body = await request.json();
      return Response.json({ ok: true, body, served }, { headers: { "x-served": String(served) } });
    }
    const user = /^\/users\/(\d+)$/.exec(url.pathname);
    if (request.method === "GET" && user) {
      return Response.json(
        { id: Number(user[1]), name: url.searchParams.get("name") ?? "anonymous", region: env.REGION ?? null },
        { headers: { "cache-control": "no-store" } },
      );
    }
    return new Response("not found", { status: 404 });
  },
};
`;

const IN_FLIGHT = 64;
/** The CPU budget of the Warden rows whose V8 calls run synchronously (warden serve's default). */
const SHORT_CPU_MS = 50;
/** Each throughput point stops starting calls after this many calls or this long, whichever comes first. */
const MAX_CALLS = 20_000;
const MAX_MS = 1000;
const WARMUP_MS = 250;
const LATENCY_CALLS = 2000;
const LATENCY_WARMUP = 200;
const LATENCY_MAX_MS = 2000;
const MEMORY_BYTES = 50_000_000; // the default profile's memory limit, as the raw peers' heap limit
const MEMORY_MB = Math.ceil(MEMORY_BYTES / 2 ** 20);
const CPUS = availableParallelism();

/** Something that answers a warm call of `x => x + 1`. */
interface Caller {
  call(x: number): Promise<number> | number;
  close(): Promise<void>;
  /** Resolves once every instance the set-up may use is loaded (Warden loads them on demand). */
  ready?(): Promise<void>;
}

/** Latencies (µs) of sequential calls, after a warm-up; bounded in calls and time. */
async function sequential(caller: Caller): Promise<number[]> {
  for (let i = 0; i < LATENCY_WARMUP; i++) await caller.call(i);
  const times: number[] = [];
  const deadline = performance.now() + LATENCY_MAX_MS;
  for (let i = 0; i < LATENCY_CALLS && (i < 100 || performance.now() < deadline); i++) {
    const started = performance.now();
    const got = await caller.call(i);
    times.push((performance.now() - started) * 1000);
    if (got !== i + 1) throw new Error(`a warm call returned ${got}, expected ${i + 1}`);
  }
  return times;
}

/** Operations per second with `inFlight` lanes, each starting its next operation when its last ends. */
async function perSecond(
  operation: (i: number) => Promise<unknown> | unknown,
  inFlight: number,
  maxMs = MAX_MS,
): Promise<number> {
  let started = 0;
  let done = 0;
  const begin = performance.now();
  const deadline = begin + maxMs;
  const lane = async () => {
    while (started < MAX_CALLS && (started < 2 * inFlight || performance.now() < deadline)) {
      await operation(started++);
      done++;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, lane));
  return done / ((performance.now() - begin) / 1000);
}

/** Waits (at most 10 s) until an app has loaded all the instances it may use. */
async function allInstances(app: LoadedApp): Promise<void> {
  for (let waited = 0; app.stats().instances < app.maxInstances && waited < 10_000; waited += 10) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Warden: a loaded app's `call`, a failed call is an error, not a figure. */
function wardenCaller(app: LoadedApp): Caller {
  return {
    async call(x) {
      const result = await app.call(x);
      if (!result.ok) throw result.error;
      return result.value as number;
    },
    close: () => app.close(),
    ready: () => allInstances(app),
  };
}

/**
 * Raw isolated-vm: `count` isolates made once in this process, each with one context and a
 * Reference to the function in it; each call goes to the isolate with the fewest calls in
 * flight (isolated-vm queues async calls on the isolate's own thread).
 */
function rawIsolatedVm(count: number): Caller {
  const isolates = Array.from({ length: count }, () => {
    const isolate = new ivm.Isolate({ memoryLimit: MEMORY_MB });
    const context = isolate.createContextSync();
    const fn = context.evalSync(INCREMENT_EXPRESSION, { reference: true }) as ivm.Reference<(x: number) => number>;
    return { isolate, fn, inFlight: 0 };
  });
  return {
    async call(x) {
      let target = isolates[0]!;
      for (const candidate of isolates) if (candidate.inFlight < target.inFlight) target = candidate;
      target.inFlight++;
      try {
        return (await target.fn.apply(undefined, [x])) as number;
      } finally {
        target.inFlight--;
      }
    },
    async close() {
      for (const { isolate } of isolates) if (!isolate.isDisposed) isolate.dispose();
    },
  };
}

/** Raw quickjs-emscripten on this thread: one runtime and context made once, `callFunction` per call. */
async function rawQuickJSHere(): Promise<Caller> {
  const module = await newQuickJSWASMModule();
  const runtime = module.newRuntime();
  runtime.setMemoryLimit(MEMORY_BYTES);
  runtime.setMaxStackSize(QUICKJS_STACK_BYTES);
  const context = runtime.newContext();
  const fn = context.unwrapResult(context.evalCode(INCREMENT_EXPRESSION, "raw.js", { type: "global" }));
  return {
    call(x) {
      const arg = context.newNumber(x);
      const result = context.callFunction(fn, context.undefined, arg);
      arg.dispose();
      const handle = context.unwrapResult(result);
      const value = context.getNumber(handle);
      handle.dispose();
      return value;
    },
    async close() {
      fn.dispose();
      context.dispose();
      runtime.dispose();
    },
  };
}

/** The raw QuickJS worker: a warm context and function, one `callFunction` per message. */
function rawQuickJSWorkerSource(): string {
  const quickjs = import.meta.resolve("quickjs-emscripten");
  return `
const { parentPort, workerData } = require("node:worker_threads");
import(${JSON.stringify(quickjs)}).then(async ({ newQuickJSWASMModule }) => {
  const module = await newQuickJSWASMModule();
  const runtime = module.newRuntime();
  runtime.setMemoryLimit(workerData.memoryBytes);
  runtime.setMaxStackSize(workerData.stackBytes);
  const context = runtime.newContext();
  const fn = context.unwrapResult(context.evalCode(workerData.expression, "raw.js", { type: "global" }));
  parentPort.on("message", ({ id, x }) => {
    const arg = context.newNumber(x);
    const handle = context.unwrapResult(context.callFunction(fn, context.undefined, arg));
    arg.dispose();
    const value = context.getNumber(handle);
    handle.dispose();
    parentPort.postMessage({ id, value });
  });
  parentPort.postMessage({ id: 0 });
});
`;
}

/** Raw quickjs-emscripten on `count` worker threads, each call posted to the thread with the fewest in flight. */
async function rawQuickJSThreads(count: number): Promise<Caller> {
  const source = rawQuickJSWorkerSource();
  let nextId = 1;
  const threads = await Promise.all(
    Array.from({ length: count }, async () => {
      const worker = new Worker(source, {
        eval: true,
        workerData: { memoryBytes: MEMORY_BYTES, stackBytes: QUICKJS_STACK_BYTES, expression: INCREMENT_EXPRESSION },
        resourceLimits: { stackSizeMb: WORKER_STACK_MB },
      });
      const pending = new Map<number, (value: number) => void>();
      await new Promise<void>((resolve, reject) => {
        worker.once("error", reject);
        worker.once("message", () => resolve());
      });
      worker.on("message", ({ id, value }: { id: number; value: number }) => {
        pending.get(id)?.(value);
        pending.delete(id);
      });
      return { worker, pending };
    }),
  );
  return {
    call(x) {
      let target = threads[0]!;
      for (const candidate of threads) if (candidate.pending.size < target.pending.size) target = candidate;
      const id = nextId++;
      return new Promise<number>((resolve) => {
        target.pending.set(id, resolve);
        target.worker.postMessage({ id, x });
      });
    },
    async close() {
      await Promise.all(threads.map(({ worker }) => worker.terminate()));
    },
  };
}

const us = (value: number) => value.toFixed(0);
const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}x`;
const rate = (value: number) => Math.round(value).toLocaleString("en-US");

/** The requests of the fetch benchmark: a GET with a path and a query parameter, and a small JSON POST. */
function request(i: number): Request {
  return i % 2 === 0
    ? new Request(`http://app.local/users/${i}?name=u${i % 17}`)
    : new Request("http://app.local/echo", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ i, tags: ["a", "b"], note: "warm" }),
      });
}

/** One request through a fetch handler, its body read (the caller's whole round trip). */
async function serve(fetch: (request: Request) => Promise<Response>, i: number): Promise<void> {
  const response = await fetch(request(i));
  if (response.status !== 200) throw new Error(`request ${i} answered ${response.status}: ${await response.text()}`);
  await response.arrayBuffer();
}

/** The Workers app run in the host itself, no sandbox: the same module, imported here. */
async function hostFetch(env: Record<string, unknown>): Promise<(request: Request) => Promise<Response>> {
  const url = `data:text/javascript;base64,${Buffer.from(WORKERS_APP).toString("base64")}`;
  const module = (await import(url)) as {
    default: { fetch(request: Request, env: unknown, ctx: unknown): Promise<Response> };
  };
  const ctx = { waitUntil() {}, passThroughOnException() {} };
  return (request) => module.default.fetch(request, env, ctx);
}

/** Runs the warm-call suite and prints its tables. */
export async function main(): Promise<void> {
  const runtimes: Runtime[] = [];
  const callers: Caller[] = [];
  const open = <T extends Caller>(caller: T): T => {
    callers.push(caller);
    return caller;
  };
  const begin = performance.now();
  try {
    const v8 = await createRuntime({ engine: "v8", env: {}, configFile: false });
    runtimes.push(v8);
    const quickjs = await createRuntime({ engine: "quickjs", env: {}, configFile: false });
    runtimes.push(quickjs);
    const load = (runtime: Runtime, source: string, env?: Record<string, unknown>) =>
      runtime.load(source, { filename: "warm.js", ...(env ? { env } : {}) });

    const wardenV8 = open(wardenCaller(await load(v8, INCREMENT)));
    // Under a CPU budget of at most 100 ms (warden serve's is 50 ms), V8 makes a short warm call
    // synchronously in its sandbox process (docs/engines.md); the default budget (10 s) does not.
    const wardenV8Short = open(
      wardenCaller(await v8.load(INCREMENT, { filename: "warm.js", limits: { cpuTimeMs: SHORT_CPU_MS } })),
    );
    const wardenQuickJS = open(wardenCaller(await load(quickjs, INCREMENT)));
    const rawIvm: Record<number, Caller> = { 1: open(rawIsolatedVm(1)), [CPUS]: open(rawIsolatedVm(CPUS)) };
    const inProcesses = async (count: number): Promise<Caller> => {
      const caller = await rawIsolatedVmProcesses(count, INCREMENT_EXPRESSION, MEMORY_MB);
      return { call: async (x) => (await caller.call(x)) as number, close: () => caller.close() };
    };
    const rawIvmProcesses: Record<number, Caller> = {
      1: open(await inProcesses(1)),
      [CPUS]: open(await inProcesses(CPUS)),
    };
    const rawQuickJS = open(await rawQuickJSHere());
    const rawQuickJSWorkers: Record<number, Caller> = {
      1: open(await rawQuickJSThreads(1)),
      [CPUS]: open(await rawQuickJSThreads(CPUS)),
    };

    // (a) Sequential warm calls.
    const latency = {
      rawV8: await sequential(rawIvm[1]!),
      rawV8Process: await sequential(rawIvmProcesses[1]!),
      wardenV8: await sequential(wardenV8),
      wardenV8Short: await sequential(wardenV8Short),
      rawQuickJS: await sequential(rawQuickJS),
      rawQuickJSThread: await sequential(rawQuickJSWorkers[1]!),
      wardenQuickJS: await sequential(wardenQuickJS),
    };
    const latencyRows: string[][] = [];
    const pair = (label: string, raw: number[], warden: number[]) => {
      for (const p of [50, 99]) {
        const [r, w] = [percentile(raw, p), percentile(warden, p)];
        latencyRows.push([`${label} p${p}`, us(r), us(w), ratio(w, r)]);
      }
    };
    pair("v8 (raw: isolated-vm reference.apply, warm context)", latency.rawV8, latency.wardenV8);
    pair("v8 (raw: the same in a child process, process.send)", latency.rawV8Process, latency.wardenV8);
    pair(
      `v8, Warden under a ${SHORT_CPU_MS} ms CPU budget (synchronous calls; raw: in a child process)`,
      latency.rawV8Process,
      latency.wardenV8Short,
    );
    pair("quickjs (raw: callFunction, warm context, this thread)", latency.rawQuickJS, latency.wardenQuickJS);
    pair("quickjs (raw: the same on a worker thread)", latency.rawQuickJSThread, latency.wardenQuickJS);
    printTable(
      "(a) Sequential warm calls of `(x) => x + 1`, µs (same process, same run)",
      ["measure", "raw", "warden", "ratio"],
      latencyRows,
    );

    // (b) 64 calls in flight. Warm every set-up first; Warden loads its other instances on demand
    // (a QuickJS instance takes about 0.25 s to load), so the measure starts once they are all in.
    const throughputOf = async (caller: Caller) => {
      await perSecond((i) => caller.call(i), IN_FLIGHT, WARMUP_MS);
      await caller.ready?.();
      return perSecond((i) => caller.call(i), IN_FLIGHT);
    };
    const figures = {
      rawIvm1: await throughputOf(rawIvm[1]!),
      rawIvmN: await throughputOf(rawIvm[CPUS]!),
      rawIvmProcess1: await throughputOf(rawIvmProcesses[1]!),
      rawIvmProcessN: await throughputOf(rawIvmProcesses[CPUS]!),
      wardenV8: await throughputOf(wardenV8),
      wardenV8Short: await throughputOf(wardenV8Short),
      rawQuickJSHere: await throughputOf(rawQuickJS),
      rawQuickJS1: await throughputOf(rawQuickJSWorkers[1]!),
      rawQuickJSN: await throughputOf(rawQuickJSWorkers[CPUS]!),
      wardenQuickJS: await throughputOf(wardenQuickJS),
    };
    const bestV8 = Math.max(figures.rawIvm1, figures.rawIvmN);
    const bestV8Process = Math.max(figures.rawIvmProcess1, figures.rawIvmProcessN);
    const bestQuickJS = Math.max(figures.rawQuickJSHere, figures.rawQuickJS1, figures.rawQuickJSN);
    printTable(
      `(b) Warm calls/s, ${IN_FLIGHT} in flight (Warden: the default instances, v8 ${defaultInstances("v8", CPUS)}, quickjs ${defaultInstances("quickjs", CPUS)}; same process, same run)`,
      ["engine", "raw, 1", `raw, ${CPUS}`, "raw, this thread", "warden", "warden / best raw"],
      [
        [
          "v8 (raw: isolated-vm isolates)",
          rate(figures.rawIvm1),
          rate(figures.rawIvmN),
          "",
          rate(figures.wardenV8),
          ratio(figures.wardenV8, bestV8),
        ],
        [
          "v8 (raw: isolated-vm in child processes)",
          rate(figures.rawIvmProcess1),
          rate(figures.rawIvmProcessN),
          "",
          rate(figures.wardenV8),
          ratio(figures.wardenV8, bestV8Process),
        ],
        [
          `v8, Warden under a ${SHORT_CPU_MS} ms CPU budget (raw: in child processes)`,
          rate(figures.rawIvmProcess1),
          rate(figures.rawIvmProcessN),
          "",
          rate(figures.wardenV8Short),
          ratio(figures.wardenV8Short, bestV8Process),
        ],
        [
          "quickjs (raw: worker threads / this thread)",
          rate(figures.rawQuickJS1),
          rate(figures.rawQuickJSN),
          rate(figures.rawQuickJSHere),
          rate(figures.wardenQuickJS),
          ratio(figures.wardenQuickJS, bestQuickJS),
        ],
      ],
    );
    for (const caller of callers.splice(0)) await caller.close();

    // (c) app.fetch on a small Workers-style app.
    const env = { REGION: "bench" };
    const fetchers: Record<string, (request: Request) => Promise<Response>> = {
      host: await hostFetch(env),
    };
    const apps: Record<string, LoadedApp> = {};
    for (const runtime of runtimes) {
      const app = await load(runtime, WORKERS_APP, env);
      apps[runtime.engine] = app;
      fetchers[runtime.engine] = (request) => app.fetch(request);
    }
    const fetchFigures: Record<string, number[]> = {};
    for (const [name, fetch] of Object.entries(fetchers)) {
      const operation = (i: number) => serve(fetch, i);
      await perSecond(operation, IN_FLIGHT, WARMUP_MS);
      if (apps[name]) await allInstances(apps[name]);
      fetchFigures[name] = [await perSecond(operation, 1), await perSecond(operation, IN_FLIGHT)];
    }
    const at = (name: string, i: number) => fetchFigures[name]![i]!;
    printTable(
      "(c) app.fetch requests/s, small Workers-style app (host: the same module run in the host, no sandbox)",
      ["in flight", "host", "warden v8", "v8 / host", "warden quickjs", "qjs / host"],
      [1, IN_FLIGHT].map((inFlight, i) => [
        String(inFlight),
        rate(at("host", i)),
        rate(at("v8", i)),
        ratio(at("v8", i), at("host", i)),
        rate(at("quickjs", i)),
        ratio(at("quickjs", i), at("host", i)),
      ]),
    );
  } finally {
    await Promise.allSettled(callers.map((caller) => caller.close()));
    await Promise.allSettled(runtimes.map((runtime) => runtime.close()));
  }
  console.log(`\nwarm suite took ${((performance.now() - begin) / 1000).toFixed(1)} s on ${CPUS} CPUs`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
