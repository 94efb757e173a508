/**
 * Throughput, latency and memory under concurrency, side by side with the raw
 * engines in the same run:
 * (a) sequential trivial runs (`1+1`), p50/p99: Warden v8 vs raw isolated-vm
 * (a fresh context on a warm isolate), Warden quickjs vs raw quickjs-emscripten
 * (a fresh runtime and context);
 * (b) runs/s with 1, 8, 64 and 1,000 runs in flight, for `1+1` and a small
 * realistic run: Warden v8 (its default 2 sandbox processes) vs raw
 * isolated-vm on 1 and 2 isolates (a fresh context per run), Warden quickjs
 * (its default 2 worker threads) vs raw quickjs-emscripten on 1 and 2 threads;
 * (c) RSS of the host and of Warden's V8 sandbox processes with 1, 64 and
 * 1,000 runs in flight and over 10,000 runs in a row (each set-up in a
 * process of its own, see `throughput-memory.ts`).
 * Every point is bounded in runs and time; the suite takes about 2 minutes.
 * Run with `npm run bench -- throughput`.
 */
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { newQuickJSWASMModule, type QuickJSWASMModule } from "quickjs-emscripten";
import { QUICKJS_STACK_BYTES } from "../src/engine/quickjs/engine.js";
import { SMALL, TRIVIAL, mib, rawIsolatedVm, rawQuickJSThreads, wardenRunner, type Runner } from "./peers.js";
import { percentile, printTable } from "./stats.js";
import type { MemoryReport, RssSample } from "./throughput-memory.js";

const IN_FLIGHT = [1, 8, 64, 1000];
/** Each throughput point stops starting runs after this many runs or this long, whichever comes first... */
const MAX_RUNS = 3000;
const MAX_MS = 1000;
/** ...but not before it has started this many (so that 1,000 in flight is measured past its first wave). */
const minRuns = (inFlight: number) => Math.max(200, 2 * inFlight);
const LATENCY_RUNS = 500;
const MEMORY_BYTES = 50_000_000; // the default profile's memory limit, as the raw peers' heap limit
const MEMORY_MB = Math.ceil(MEMORY_BYTES / 2 ** 20);

/** Runs per second with `inFlight` runs in flight, until the point's run or time bound. */
async function runsPerSecond(runner: Runner, source: string, inFlight: number): Promise<number> {
  let started = 0;
  let done = 0;
  const begin = performance.now();
  const deadline = begin + MAX_MS;
  const lane = async () => {
    while (started < MAX_RUNS && (started < minRuns(inFlight) || performance.now() < deadline)) {
      started++;
      await runner.run(source);
      done++;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, lane));
  return done / ((performance.now() - begin) / 1000);
}

/** Latencies (ms) of `runs` sequential runs. */
async function sequential(run: () => Promise<unknown> | unknown, runs = LATENCY_RUNS): Promise<number[]> {
  for (let i = 0; i < 50; i++) await run();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    await run();
    times.push(performance.now() - started);
  }
  return times;
}

/** Raw quickjs-emscripten on the calling thread: a fresh runtime and context, evaluate, dispose. */
function rawQuickJSHere(module: QuickJSWASMModule, source: string): unknown {
  const runtime = module.newRuntime();
  runtime.setMemoryLimit(MEMORY_BYTES);
  runtime.setMaxStackSize(QUICKJS_STACK_BYTES);
  const context = runtime.newContext();
  const value = context.dump(context.unwrapResult(context.evalCode(source, "raw.js", { type: "global" })));
  context.dispose();
  runtime.dispose();
  return value;
}

const ms = (value: number) => value.toFixed(3);
const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}x`;
const perSecond = (value: number) => Math.round(value).toLocaleString("en-US");

/** (a) Sequential trivial runs. */
async function latency(runners: Record<string, Runner>, module: QuickJSWASMModule): Promise<string[][]> {
  const rawV8 = await sequential(() => runners["raw ivm 1 isolate"]!.run(TRIVIAL));
  const wardenV8 = await sequential(() => runners["warden v8"]!.run(TRIVIAL));
  const rawQuickJS = await sequential(() => rawQuickJSHere(module, TRIVIAL));
  const rawQuickJSThread = await sequential(() => runners["raw quickjs 1 thread"]!.run(TRIVIAL));
  const wardenQuickJS = await sequential(() => runners["warden quickjs"]!.run(TRIVIAL));
  const rows: string[][] = [];
  for (const p of [50, 99]) {
    rows.push([
      `v8 \`1+1\` p${p} (raw: fresh context, warm isolate)`,
      ms(percentile(rawV8, p)),
      ms(percentile(wardenV8, p)),
      ratio(percentile(wardenV8, p), percentile(rawV8, p)),
    ]);
  }
  for (const p of [50, 99]) {
    rows.push([
      `quickjs \`1+1\` p${p} (raw: fresh runtime + context, calling thread)`,
      ms(percentile(rawQuickJS, p)),
      ms(percentile(wardenQuickJS, p)),
      ratio(percentile(wardenQuickJS, p), percentile(rawQuickJS, p)),
    ]);
  }
  for (const p of [50, 99]) {
    rows.push([
      `quickjs \`1+1\` p${p} (raw: the same on a worker thread, one message each way)`,
      ms(percentile(rawQuickJSThread, p)),
      ms(percentile(wardenQuickJS, p)),
      ratio(percentile(wardenQuickJS, p), percentile(rawQuickJSThread, p)),
    ]);
  }
  return rows;
}

/** Whether runs/s never drops as more runs are in flight; the first drop otherwise. */
function monotonic(values: readonly number[]): string {
  for (let i = 1; i < values.length; i++) {
    const best = Math.max(...values.slice(0, i));
    if (values[i]! < best) {
      const at = IN_FLIGHT[values.indexOf(best)]!;
      return `no: ${IN_FLIGHT[i]} is ${((1 - values[i]! / best) * 100).toFixed(0)}% below ${at}`;
    }
  }
  return "yes";
}

/** (b) Runs/s at each point, every set-up measured back to back at each point. */
async function throughput(runners: Record<string, Runner>, source: string, label: string): Promise<void> {
  const names = Object.keys(runners);
  for (const name of names) {
    const runner = runners[name]!;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        for (let i = 0; i < 25; i++) await runner.run(source);
      }),
    );
  }
  const figures: Record<string, number[]> = Object.fromEntries(names.map((name) => [name, []]));
  for (const inFlight of IN_FLIGHT) {
    for (const name of names) figures[name]!.push(await runsPerSecond(runners[name]!, source, inFlight));
  }
  const at = (name: string, i: number) => figures[name]![i]!;
  const rows = IN_FLIGHT.map((inFlight, i) => {
    const bestV8 = Math.max(at("raw ivm 1 isolate", i), at("raw ivm 2 isolates", i));
    return [
      String(inFlight),
      perSecond(at("raw ivm 1 isolate", i)),
      perSecond(at("raw ivm 2 isolates", i)),
      perSecond(at("warden v8", i)),
      ratio(at("warden v8", i), bestV8),
      perSecond(at("raw quickjs 1 thread", i)),
      perSecond(at("raw quickjs 2 threads", i)),
      perSecond(at("warden quickjs", i)),
      ratio(at("warden quickjs", i), at("raw quickjs 2 threads", i)),
    ];
  });
  const column = (name: string) => monotonic(figures[name]!);
  rows.push([
    "more in flight never slower?",
    column("raw ivm 1 isolate"),
    column("raw ivm 2 isolates"),
    column("warden v8"),
    "",
    column("raw quickjs 1 thread"),
    column("raw quickjs 2 threads"),
    column("warden quickjs"),
    "",
  ]);
  printTable(
    `Throughput, runs/s: ${label} (same process, same run)`,
    [
      "in flight",
      "raw ivm 1 isolate",
      "raw ivm 2 isolates",
      "warden v8",
      "v8 / best raw",
      "raw qjs 1 thread",
      "raw qjs 2 threads",
      "warden quickjs",
      "qjs / raw 2 threads",
    ],
    rows,
  );
}

/** (c) One set-up's memory, measured in a process of its own. */
function memoryOf(mode: string): Promise<MemoryReport> {
  const entry = fileURLToPath(new URL("./throughput-memory.ts", import.meta.url));
  // Only the raw isolated-vm process loads isolated-vm, which needs --no-node-snapshot on Node 20.
  const execArgv = [...(mode === "raw-ivm" ? ["--no-node-snapshot"] : []), "--import", "tsx"];
  const child = fork(entry, [mode], { execArgv, stdio: ["ignore", "inherit", "inherit", "ipc"] });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
    let report: MemoryReport | { error: string } | undefined;
    child.on("message", (message: MemoryReport | { error: string }) => (report = message));
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      if (report && !("error" in report)) resolve(report);
      else reject(new Error(`memory of ${mode}: ${report?.error ?? `exit ${code ?? signal}`}`));
    });
  });
}

async function memory(): Promise<void> {
  const reports: Record<string, MemoryReport> = {};
  for (const mode of ["warden-v8", "raw-ivm", "warden-quickjs", "raw-quickjs"]) reports[mode] = await memoryOf(mode);
  const v8 = reports["warden-v8"]!;
  const cells = (mode: string, pick: (report: MemoryReport) => RssSample) => {
    const sample = pick(reports[mode]!);
    return mode === "warden-v8"
      ? [mib(sample.host), `${mib(sample.children)} (${sample.childCount})`, mib(sample.host + sample.children)]
      : [mib(sample.host)];
  };
  const row = (label: string, pick: (report: MemoryReport) => RssSample) => [
    label,
    ...cells("raw-ivm", pick),
    ...cells("warden-v8", pick),
    ...cells("raw-quickjs", pick),
    ...cells("warden-quickjs", pick),
  ];
  const rows = [
    row("idle, after warm-up", (r) => r.idle),
    ...v8.inFlight.map(({ inFlight, runs }, i) =>
      row(`peak, ${inFlight} in flight (${runs} runs)`, (r) => r.inFlight[i]!.peak),
    ),
    row(`peak, ${v8.series.length * 1000} runs in a row`, (r) => r.seriesPeak),
  ];
  const header = [
    "RSS, MiB (small run)",
    "raw ivm (2 isolates)",
    "warden v8 host",
    "v8 sandboxes (n)",
    "warden v8 total",
    "raw qjs (2 threads)",
    "warden quickjs host",
  ];
  printTable("Memory: RSS of each set-up in a process of its own (peaks sampled every 20 ms)", header, rows);
  printTable(
    "Memory over 10,000 runs in a row, sampled after every 1,000",
    ["after runs", ...header.slice(1)],
    v8.series.map((_, i) => row(String((i + 1) * 1000), (r) => r.series[i]!)),
  );
  const seconds = (mode: string) => (reports[mode]!.seriesMs / 1000).toFixed(1);
  console.log(
    `10,000 runs in a row took: raw ivm ${seconds("raw-ivm")} s, warden v8 ${seconds("warden-v8")} s, ` +
      `raw quickjs ${seconds("raw-quickjs")} s, warden quickjs ${seconds("warden-quickjs")} s`,
  );
}

/** Runs the throughput suite and prints its tables. */
export async function main(): Promise<void> {
  const module = await newQuickJSWASMModule();
  const runners: Record<string, Runner> = {};
  try {
    runners["raw ivm 1 isolate"] = await rawIsolatedVm(1, MEMORY_MB);
    runners["raw ivm 2 isolates"] = await rawIsolatedVm(2, MEMORY_MB);
    runners["warden v8"] = await wardenRunner("v8");
    runners["raw quickjs 1 thread"] = await rawQuickJSThreads(1, MEMORY_BYTES);
    runners["raw quickjs 2 threads"] = await rawQuickJSThreads(2, MEMORY_BYTES);
    runners["warden quickjs"] = await wardenRunner("quickjs");
    for (const source of [TRIVIAL, SMALL]) {
      const expected = JSON.stringify(rawQuickJSHere(module, source));
      for (const [name, runner] of Object.entries(runners)) {
        const got = JSON.stringify(await runner.run(source));
        if (got !== expected) throw new Error(`${name} returned ${got}, expected ${expected}`);
      }
    }
    printTable(
      "Sequential trivial runs, ms (same process, same run)",
      ["measure", "raw", "warden", "ratio"],
      await latency(runners, module),
    );
    await throughput(runners, TRIVIAL, "`1+1`");
    await throughput(runners, SMALL, "small realistic run (200 records grouped, sorted, serialised)");
  } finally {
    await Promise.allSettled(Object.values(runners).map((runner) => runner.close()));
  }
  await memory();
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
