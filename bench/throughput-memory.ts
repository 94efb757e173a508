/**
 * Memory of one engine set-up, measured in a process of its own (started by
 * `throughput.ts`), so that the host's RSS is that of the set-up alone: a
 * Warden host never loads isolated-vm, and no other suite's leftovers count.
 * It reads its own VmRSS and that of its child processes (Warden's V8 sandbox
 * processes) every 20 ms while 1, 64 and 1,000 runs are in flight, and after
 * every 1,000 of 10,000 runs in a row, then sends the figures to its parent.
 *
 * Argument: warden-v8 | warden-quickjs | raw-ivm | raw-quickjs.
 */
import {
  SMALL,
  childPids,
  commandLine,
  rawIsolatedVm,
  rawQuickJSThreads,
  rssBytes,
  wardenRunner,
  type Runner,
} from "./peers.js";

/** RSS of the host and of its child processes at one moment. */
export interface RssSample {
  host: number;
  children: number;
  childCount: number;
}

/** What this process reports. */
export interface MemoryReport {
  mode: string;
  /** After start and a short warm-up. */
  idle: RssSample;
  /** Peak while N runs are in flight (each field its own peak). */
  inFlight: { inFlight: number; runs: number; peak: RssSample }[];
  /** After every 1,000 of 10,000 runs in a row. */
  series: RssSample[];
  /** Peak over the 10,000 runs in a row. */
  seriesPeak: RssSample;
  /** Wall time of the 10,000 runs in a row, ms. */
  seriesMs: number;
}

export const IN_FLIGHT = [1, 64, 1000];
export const IN_A_ROW = 10_000;
const SAMPLE_EVERY_MS = 20;

/** Warden's V8 sandbox processes among this process's children (tsx's esbuild service is another child). */
const isSandbox = (pid: number) => /\/engine\/v8\/child\.[jt]s\b/.test(commandLine(pid));

function sample(): RssSample {
  const children = childPids(process.pid).filter(isSandbox);
  return {
    host: rssBytes("self"),
    children: children.reduce((sum, pid) => sum + rssBytes(pid), 0),
    childCount: children.length,
  };
}

/** Samples RSS every 20 ms while `work` runs; the peak of each field. */
async function peakDuring(work: () => Promise<void>): Promise<RssSample> {
  const peak = sample();
  const take = () => {
    const now = sample();
    peak.host = Math.max(peak.host, now.host);
    peak.children = Math.max(peak.children, now.children);
    peak.childCount = Math.max(peak.childCount, now.childCount);
  };
  const timer = setInterval(take, SAMPLE_EVERY_MS);
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
  take();
  return peak;
}

/** `runs` runs with `inFlight` of them in flight at a time. */
async function concurrently(runner: Runner, inFlight: number, runs: number): Promise<void> {
  let started = 0;
  const lane = async () => {
    while (started < runs) {
      started++;
      await runner.run(SMALL);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, lane));
}

async function open(mode: string): Promise<Runner> {
  // The default profile's memoryBytes (50 MB) as the raw peers' heap limit, as in throughput.ts.
  const memoryMb = Math.ceil(50_000_000 / 2 ** 20);
  if (mode === "raw-ivm") return rawIsolatedVm(2, memoryMb);
  if (mode === "raw-quickjs") return rawQuickJSThreads(2, 50_000_000);
  if (mode !== "warden-v8" && mode !== "warden-quickjs") throw new Error(`unknown mode ${mode}`);
  return wardenRunner(mode === "warden-v8" ? "v8" : "quickjs");
}

async function measure(mode: string): Promise<MemoryReport> {
  const runner = await open(mode);
  try {
    await concurrently(runner, 4, 200);
    const idle = sample();
    // The runs in a row first: each process's own high-water mark would otherwise include the bursts.
    const series: RssSample[] = [];
    const started = performance.now();
    const seriesPeak = await peakDuring(async () => {
      for (let i = 1; i <= IN_A_ROW; i++) {
        await runner.run(SMALL);
        if (i % 1000 === 0) series.push(sample());
      }
    });
    const seriesMs = performance.now() - started;
    const inFlight: MemoryReport["inFlight"] = [];
    for (const n of IN_FLIGHT) {
      const runs = Math.max(500, 2 * n);
      inFlight.push({ inFlight: n, runs, peak: await peakDuring(() => concurrently(runner, n, runs)) });
    }
    return { mode, idle, inFlight, series, seriesPeak, seriesMs };
  } finally {
    await runner.close();
  }
}

const mode = process.argv[2] ?? "";
try {
  const report = await measure(mode);
  process.send?.(report, () => process.disconnect());
} catch (error) {
  process.exitCode = 1;
  process.send?.({ error: String((error as Error)?.stack ?? error) }, () => process.disconnect());
}
