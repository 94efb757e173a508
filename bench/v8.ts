/**
 * V8 engine benchmarks, side by side with raw isolated-vm in the same process:
 * (a) limit overhead on the mixed workload under the default profile,
 * (b) cold start of `1+1`, (c) kill precision of an infinite loop and the host
 * event loop's worst delay meanwhile. Run with `npm run bench` or
 * `node --no-node-snapshot --import tsx bench/v8.ts`.
 */
import { monitorEventLoopDelay } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import ivm from "isolated-vm";
import { createRuntime, type Runtime } from "../src/index.js";
import { MIXED_WORKLOAD } from "./workload.js";
import { PRELUDE_SOURCE, preludeRunConfig } from "../src/engine/prelude.js";
import { prepareSource } from "../src/transform/index.js";
import { median, percentile, printTable } from "./stats.js";

async function rawRun(isolate: ivm.Isolate, script: ivm.Script): Promise<number> {
  const context = await isolate.createContext();
  const started = performance.now();
  await script.run(context, { copy: true });
  const elapsed = performance.now() - started;
  context.release();
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
 * (a) Mixed workload: Warden (default profile, every limit on) vs raw
 * isolated-vm, interleaved. The raw isolate gets the same heap limit as the
 * default profile's memory limit, so that the comparison measures Warden's
 * machinery (instrumentation, watchdog, pooling), not a different heap size.
 */
async function overhead(runtime: Runtime): Promise<string[][]> {
  const isolate = new ivm.Isolate({ memoryLimit: Math.ceil(runtime.limits.values.memoryBytes / 2 ** 20) });
  const script = await isolate.compileScript(MIXED_WORKLOAD);
  // The instrumented code alone, in a raw context with the prelude: splits the
  // instrumentation's cost from the rest of Warden's machinery.
  const instrumented = await isolate.compileScript(prepareSource(MIXED_WORKLOAD, "workload.js").code);
  const prelude = await isolate.compileScript(PRELUDE_SOURCE);
  // The code a run with neither the instruction budget nor the depth limit gets (no counting).
  const uncountedScript = await isolate.compileScript(prepareSource(MIXED_WORKLOAD, "workload.js", false).code);
  const limits = runtime.limits.values;
  const config = preludeRunConfig(limits, undefined);
  const uncountedConfig = preludeRunConfig({ ...limits, ...OWN_LIMITS_OFF }, undefined);
  const instrumentedRun = async (script = instrumented, runConfig = config) => {
    const context = await isolate.createContext();
    context.global.setSync("__wardenLog", new ivm.Callback(() => {}, { ignored: true }));
    context.global.setSync("__wardenWarn", new ivm.Callback(() => {}, { ignored: true }));
    await prelude.run(context);
    context.global.setSync("__wardenRun", runConfig);
    const started = performance.now();
    await script.run(context, { promise: true, copy: true });
    const elapsed = performance.now() - started;
    context.release();
    return elapsed;
  };
  const raw: number[] = [];
  const warden: number[] = [];
  const instr: number[] = [];
  const off: number[] = [];
  const uncounted: number[] = [];
  for (let i = 0; i < 5; i++) {
    await rawRun(isolate, script);
    await wardenRun(runtime, MIXED_WORKLOAD);
    await instrumentedRun();
  }
  for (let i = 0; i < 30; i++) {
    raw.push(await rawRun(isolate, script));
    warden.push(await wardenRun(runtime, MIXED_WORKLOAD));
    instr.push(await instrumentedRun());
    off.push(await wardenRun(runtime, MIXED_WORKLOAD, OWN_LIMITS_OFF));
    uncounted.push(await instrumentedRun(uncountedScript, uncountedConfig));
  }
  isolate.dispose();
  const ratios = raw.map((r, i) => warden[i]! / r);
  const instrRatios = raw.map((r, i) => instr[i]! / r);
  return [
    ["mixed workload (ms, median)", median(raw).toFixed(2), median(warden).toFixed(2), `${median(ratios).toFixed(3)}x`],
    [
      "  of which instrumentation alone",
      median(raw).toFixed(2),
      median(instr).toFixed(2),
      `${median(instrRatios).toFixed(3)}x`,
    ],
    [
      "  instruction budget and depth limit off",
      median(raw).toFixed(2),
      median(off).toFixed(2),
      `${median(raw.map((r, i) => off[i]! / r)).toFixed(3)}x`,
    ],
    [
      "    of which the uncounted code alone",
      median(raw).toFixed(2),
      median(uncounted).toFixed(2),
      `${median(raw.map((r, i) => uncounted[i]! / r)).toFixed(3)}x`,
    ],
  ];
}

/** (b) Cold start: `1+1` through Warden (pooled, clean context per run) vs a fresh isolate+context in raw isolated-vm. */
async function coldStart(runtime: Runtime): Promise<string[][]> {
  const raw: number[] = [];
  const warden: number[] = [];
  for (let i = 0; i < 200; i++) {
    let started = performance.now();
    const isolate = new ivm.Isolate({ memoryLimit: 64 });
    const context = await isolate.createContext();
    await context.eval("1+1");
    raw.push(performance.now() - started);
    isolate.dispose();
    // Spaced like real requests, so the pool has refilled its warm context.
    await new Promise((resolve) => setTimeout(resolve, 2));
    started = performance.now();
    await runtime.run("1+1");
    warden.push(performance.now() - started);
  }
  return [
    [
      "cold start p50 (ms)",
      percentile(raw, 50).toFixed(3),
      percentile(warden, 50).toFixed(3),
      `${(percentile(warden, 50) / percentile(raw, 50)).toFixed(2)}x`,
    ],
    [
      "cold start p99 (ms)",
      percentile(raw, 99).toFixed(3),
      percentile(warden, 99).toFixed(3),
      `${(percentile(warden, 99) / percentile(raw, 99)).toFixed(2)}x`,
    ],
  ];
}

/** (c) How late after its timeout an infinite loop is stopped, and the event loop's worst delay meanwhile. */
async function killPrecision(runtime: Runtime): Promise<string[][]> {
  const late: number[] = [];
  const rawLate: number[] = [];
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  for (let i = 0; i < 20; i++) {
    const started = performance.now();
    const result = await runtime.run("while (true) {}", { limits: { timeoutMs: 50, maxInstructions: -1 } });
    if (result.ok) throw new Error("the loop was not stopped");
    late.push(performance.now() - started - 50);
  }
  histogram.disable();
  const isolate = new ivm.Isolate({ memoryLimit: 64 });
  const context = await isolate.createContext();
  for (let i = 0; i < 20; i++) {
    const started = performance.now();
    await context.eval("while (true) {}", { timeout: 50 }).catch(() => {});
    rawLate.push(performance.now() - started - 50);
  }
  isolate.dispose();
  return [
    ["kill lateness p50 (ms)", percentile(rawLate, 50).toFixed(2), percentile(late, 50).toFixed(2), ""],
    ["kill lateness p99 (ms)", percentile(rawLate, 99).toFixed(2), percentile(late, 99).toFixed(2), ""],
    ["host event loop worst delay (ms)", "n/a", (histogram.max / 1e6).toFixed(2), ""],
  ];
}

/** Runs every V8 benchmark and prints one table. */
export async function main(): Promise<void> {
  const runtime = await createRuntime({ engine: "v8", env: {}, configFile: false, poolSize: 1 });
  try {
    const rows = [...(await overhead(runtime)), ...(await coldStart(runtime)), ...(await killPrecision(runtime))];
    printTable(
      "V8 engine vs raw isolated-vm (same process)",
      ["measure", "raw isolated-vm", "warden v8", "ratio"],
      rows,
    );
  } finally {
    await runtime.close();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
