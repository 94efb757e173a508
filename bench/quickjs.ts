/**
 * QuickJS engine benchmarks, side by side with raw quickjs-emscripten in the
 * same process: (a) limit overhead on the mixed workload under the default
 * profile, (b) cold start of `1+1`, (c) the host event loop's worst delay
 * while a QuickJS guest spins for a second. Run with `npm run bench -- quickjs`
 * or `node --no-node-snapshot --import tsx bench/quickjs.ts`.
 */
import { monitorEventLoopDelay } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { newQuickJSWASMModule, type QuickJSWASMModule } from "quickjs-emscripten";
import { createRuntime, type Runtime } from "../src/index.js";
import { QUICKJS_STACK_BYTES } from "../src/engine/quickjs/engine.js";
import { PRELUDE_SOURCE } from "../src/engine/prelude.js";
import { prepareSource } from "../src/transform/index.js";
import { MIXED_WORKLOAD } from "./workload.js";
import { median, percentile, printTable } from "./stats.js";

/** Raw quickjs-emscripten: a fresh runtime and context, the same heap limit, evaluate, dispose. */
function rawRun(module: QuickJSWASMModule, source: string, memoryBytes: number): number {
  const started = performance.now();
  const runtime = module.newRuntime();
  runtime.setMemoryLimit(memoryBytes);
  runtime.setMaxStackSize(QUICKJS_STACK_BYTES);
  const context = runtime.newContext();
  const result = context.evalCode(source, "raw.js", { type: "global" });
  const value = context.dump(context.unwrapResult(result));
  context.dispose();
  runtime.dispose();
  const elapsed = performance.now() - started;
  if (value === undefined) throw new Error("raw run returned nothing");
  return elapsed;
}

/** The limits only Warden has, turned off: what is left of the overhead serves the engine's own limits. */
const OWN_LIMITS_OFF = { maxInstructions: -1, maxRecursionDepth: -1 } as const;

async function wardenRun(runtime: Runtime, source: string, limits?: typeof OWN_LIMITS_OFF): Promise<number> {
  const started = performance.now();
  const result = await runtime.run(source, limits ? { limits } : {});
  const elapsed = performance.now() - started;
  if (!result.ok) throw result.error;
  return elapsed;
}

/**
 * The instrumented workload alone, in a raw runtime with the prelude (no
 * worker, no interrupt handler, no metered heap): splits the
 * instrumentation's cost from the rest of Warden's machinery.
 */
function instrumentedRun(module: QuickJSWASMModule, code: string, config: string, memoryBytes: number): number {
  const runtime = module.newRuntime();
  runtime.setMemoryLimit(memoryBytes);
  runtime.setMaxStackSize(QUICKJS_STACK_BYTES);
  const context = runtime.newContext();
  for (const name of ["__wardenLog", "__wardenWarn"]) {
    context.newFunction(name, () => {}).consume((fn) => context.setProp(context.global, name, fn));
  }
  context.unwrapResult(context.evalCode(PRELUDE_SOURCE, "warden:prelude", { type: "global" })).dispose();
  context.newString(config).consume((text) => context.setProp(context.global, "__wardenRun", text));
  const started = performance.now();
  context.unwrapResult(context.evalCode(code, "workload.js", { type: "global" })).dispose();
  runtime.executePendingJobs();
  const elapsed = performance.now() - started;
  context.dispose();
  runtime.dispose();
  return elapsed;
}

/** (a) Mixed workload: Warden (default profile, every limit on) vs raw quickjs-emscripten, interleaved. */
async function overhead(runtime: Runtime, module: QuickJSWASMModule): Promise<string[][]> {
  const limits = runtime.limits.values;
  const memoryBytes = limits.memoryBytes;
  const code = prepareSource(MIXED_WORKLOAD, "workload.js").code;
  const config = JSON.stringify({
    depth: limits.maxRecursionDepth,
    fuel: limits.maxInstructions,
    warnAt: limits.warnAt,
    valueBytes: limits.maxValueBytes,
    memoryBytes,
  });
  // The code a run with neither the instruction budget nor the depth limit gets (no counting).
  const uncountedCode = prepareSource(MIXED_WORKLOAD, "workload.js", false).code;
  const uncountedConfig = JSON.stringify({ ...(JSON.parse(config) as object), depth: -1, fuel: -1 });
  const raw: number[] = [];
  const warden: number[] = [];
  const instrumented: number[] = [];
  const off: number[] = [];
  const uncounted: number[] = [];
  for (let i = 0; i < 3; i++) {
    rawRun(module, MIXED_WORKLOAD, memoryBytes);
    await wardenRun(runtime, MIXED_WORKLOAD);
    instrumentedRun(module, code, config, memoryBytes);
  }
  for (let i = 0; i < 20; i++) {
    raw.push(rawRun(module, MIXED_WORKLOAD, memoryBytes));
    warden.push(await wardenRun(runtime, MIXED_WORKLOAD));
    instrumented.push(instrumentedRun(module, code, config, memoryBytes));
    off.push(await wardenRun(runtime, MIXED_WORKLOAD, OWN_LIMITS_OFF));
    uncounted.push(instrumentedRun(module, uncountedCode, uncountedConfig, memoryBytes));
  }
  const ratio = (sample: number[]) => `${median(raw.map((r, i) => sample[i]! / r)).toFixed(3)}x`;
  return [
    ["mixed workload (ms, median)", median(raw).toFixed(2), median(warden).toFixed(2), ratio(warden)],
    ["  of which instrumentation alone", median(raw).toFixed(2), median(instrumented).toFixed(2), ratio(instrumented)],
    ["  instruction budget and depth limit off", median(raw).toFixed(2), median(off).toFixed(2), ratio(off)],
    ["    of which the uncounted code alone", median(raw).toFixed(2), median(uncounted).toFixed(2), ratio(uncounted)],
  ];
}

/**
 * (b) Cold start: `1+1` through Warden (worker pool, fresh runtime and context
 * per run, prepared while the worker idles) vs a fresh runtime and context in
 * raw quickjs-emscripten on the calling thread. Spaced runs look like real
 * requests; back-to-back runs wait for the worker to prepare its next sandbox.
 */
async function coldStart(runtime: Runtime, module: QuickJSWASMModule): Promise<string[][]> {
  const raw: number[] = [];
  const spaced: number[] = [];
  const backToBack: number[] = [];
  for (let i = 0; i < 300; i++) {
    raw.push(rawRun(module, "1+1", -1));
    await sleep(2);
    spaced.push(await wardenRun(runtime, "1+1"));
  }
  for (let i = 0; i < 300; i++) backToBack.push(await wardenRun(runtime, "1+1"));
  const row = (label: string, p: number, sample: number[]) => [
    label,
    percentile(raw, p).toFixed(3),
    percentile(sample, p).toFixed(3),
    `${(percentile(sample, p) / percentile(raw, p)).toFixed(2)}x`,
  ];
  return [
    row("cold start p50 (ms)", 50, spaced),
    row("cold start p99 (ms)", 99, spaced),
    row("back-to-back p50 (ms)", 50, backToBack),
    row("back-to-back p99 (ms)", 99, backToBack),
  ];
}

/** The event loop's delay (max, p99) in ms while `work` runs, sampled every millisecond. */
async function loopDelay(work: () => Promise<unknown> | unknown): Promise<{ max: number; p99: number }> {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  await sleep(20);
  histogram.enable();
  await sleep(5);
  await work();
  await sleep(5);
  histogram.disable();
  return { max: histogram.max / 1e6, p99: histogram.percentile(99) / 1e6 };
}

/** (c) The host event loop's worst delay while a guest spins for a second, and how late the spin is stopped. */
async function hostDelay(runtime: Runtime, module: QuickJSWASMModule): Promise<string[][]> {
  const idle = await loopDelay(() => sleep(1000));
  let late = 0;
  const warden = await loopDelay(async () => {
    const started = performance.now();
    const result = await runtime.run("while (true) {}", { limits: { timeoutMs: 1000, maxInstructions: -1 } });
    late = performance.now() - started - 1000;
    if (result.ok) throw new Error("the loop was not stopped");
  });
  // Raw quickjs-emscripten runs on the calling thread: the event loop waits for the whole spin.
  const raw = await loopDelay(() => {
    const spinning = module.newRuntime();
    const deadline = Date.now() + 1000;
    spinning.setInterruptHandler(() => Date.now() > deadline);
    const context = spinning.newContext();
    const spin = context.evalCode("while (true) {}");
    (spin.error ?? spin.value).dispose();
    context.dispose();
    spinning.dispose();
  });
  return [
    ["host event loop delay, 1 s spin: max (ms)", raw.max.toFixed(2), warden.max.toFixed(2), ""],
    ["host event loop delay, 1 s spin: p99 (ms)", raw.p99.toFixed(2), warden.p99.toFixed(2), ""],
    ["  same, host idle (noise floor): max / p99", "", `${idle.max.toFixed(2)} / ${idle.p99.toFixed(2)}`, ""],
    ["spin stopped after its timeout by (ms)", "", late.toFixed(2), ""],
  ];
}

/** Runs every QuickJS benchmark and prints one table. */
export async function main(): Promise<void> {
  const module = await newQuickJSWASMModule();
  const runtime = await createRuntime({ engine: "quickjs", env: {}, configFile: false, poolSize: 1 });
  try {
    const rows = [
      ...(await overhead(runtime, module)),
      ...(await coldStart(runtime, module)),
      ...(await hostDelay(runtime, module)),
    ];
    printTable(
      "QuickJS engine vs raw quickjs-emscripten (same process)",
      ["measure", "raw quickjs-emscripten", "warden quickjs", "ratio"],
      rows,
    );
  } finally {
    await runtime.close();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
