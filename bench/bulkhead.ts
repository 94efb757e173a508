/**
 * Bulkhead benchmark: Warden's bulkhead against cockatiel's BulkheadPolicy and
 * p-limit, in one process, side by side.
 *
 * 1. Uncontended: acquire + release of a free slot, awaited one after another.
 * 2. Cost per call with N waiters: the queue is filled to N, then every
 *    completion submits one new call, so the depth stays at N while M calls
 *    go through; the figure is wall time per call (enqueue, dequeue, run).
 *
 * Run: node --import tsx bench/bulkhead.ts   (add --expose-gc for steadier numbers)
 * Or:  import { main } from "./bulkhead.js"; await main();
 */
import { pathToFileURL } from "node:url";
import { BulkheadPolicy } from "cockatiel";
import pLimit from "p-limit";
import { createBulkhead } from "../src/bulkhead/index.js";

/** One row of the printed table. */
export interface BulkheadBenchRow {
  readonly scenario: string;
  readonly warden: number;
  readonly cockatiel: number;
  readonly pLimit: number;
}

type Task = () => Promise<void>;
type Submit = (task: Task) => Promise<unknown>;

interface Contender {
  readonly name: "warden" | "cockatiel" | "pLimit";
  /** A runner with the given concurrency and an unbounded queue, and how to dispose of it. */
  make(concurrency: number): { submit: Submit; close(): Promise<void> };
}

const CONTENDERS: readonly Contender[] = [
  {
    name: "warden",
    make(concurrency) {
      const bulkhead = createBulkhead({
        env: false,
        configFile: false,
        maxConcurrentPerUser: concurrency,
        maxConcurrentGlobal: concurrency,
        maxQueuePerUser: -1,
        maxQueueGlobal: -1,
        queueTimeoutMs: "30s",
      });
      // With a queue, calls come from 100 users, so the per-user queues and
      // the round robin are exercised too (ids made up front, not per call).
      const users = Array.from({ length: 100 }, (_, i) => `user-${i}`);
      let next = 0;
      return {
        submit: (task) => bulkhead.limit(users[next++ % users.length]!, task),
        close: () => bulkhead.close(),
      };
    },
  },
  {
    name: "cockatiel",
    make(concurrency) {
      const policy = new BulkheadPolicy(concurrency, Number.MAX_SAFE_INTEGER);
      return { submit: (task) => policy.execute(task), close: async () => undefined };
    },
  },
  {
    name: "pLimit",
    make(concurrency) {
      const limit = pLimit(concurrency);
      return { submit: (task) => limit(task), close: async () => undefined };
    },
  },
];

const gc = (globalThis as { gc?: () => void }).gc;

function settle(): Promise<void> {
  gc?.();
  return new Promise((resolve) => setImmediate(resolve));
}

/** Nanoseconds per uncontended acquire + release (median of `rounds`). */
async function uncontended(contender: Contender, iterations: number, rounds: number): Promise<number> {
  const { submit, close } = contender.make(100);
  const task = async (): Promise<void> => undefined;
  for (let i = 0; i < iterations / 10; i++) await submit(task); // warm-up
  const samples: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) await submit(task);
    samples.push(Number(process.hrtime.bigint() - start) / iterations);
  }
  await close();
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)]!;
}

/** Nanoseconds per call while `depth` calls wait, over `calls` calls. */
async function perCallAtDepth(contender: Contender, depth: number, calls: number): Promise<number> {
  const concurrency = 10;
  const { submit, close } = contender.make(concurrency);
  // After the measurement every task hangs, so nothing drains the rest of the
  // queue (cockatiel would take minutes at 200k); the runner is then dropped.
  const hang = new Promise<void>(() => undefined);
  const ignore = (): void => undefined;
  let started = 0;
  let stopped = false;
  let start = 0n;
  let report!: (ns: number) => void;
  const result = new Promise<number>((resolve) => (report = resolve));
  const task: Task = () => {
    if (stopped) return hang;
    started++;
    if (started === calls) {
      stopped = true;
      report(Number(process.hrtime.bigint() - start) / calls);
    }
    // Keep the depth constant while measuring: each call that runs submits one more.
    submit(task).catch(ignore);
    return Promise.resolve();
  };
  for (let i = 0; i < depth + concurrency; i++) submit(task).catch(ignore);
  started = 0; // the first `concurrency` ran while filling; measure from here
  start = process.hrtime.bigint();
  const nanoseconds = await result;
  await close();
  return nanoseconds;
}

function formatNs(ns: number): string {
  return ns >= 10_000 ? `${(ns / 1000).toFixed(1)} µs` : `${ns.toFixed(0)} ns`;
}

function printTable(rows: readonly BulkheadBenchRow[]): void {
  const header = ["scenario", "warden", "cockatiel", "p-limit", "warden / cockatiel"];
  const lines = rows.map((row) => [
    row.scenario,
    formatNs(row.warden),
    formatNs(row.cockatiel),
    formatNs(row.pLimit),
    `${(row.warden / row.cockatiel).toFixed(2)}×`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((line) => line[i]!.length)));
  const format = (cells: readonly string[]): string =>
    cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join("  ");
  console.log(format(header));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const line of lines) console.log(format(line));
}

/** Runs the benchmark, prints the table and returns its rows. */
export async function main(options: { quick?: boolean } = {}): Promise<BulkheadBenchRow[]> {
  const quick = options.quick ?? process.argv.includes("--quick");
  const iterations = quick ? 100_000 : 1_000_000;
  const calls = quick ? 5_000 : 50_000;
  const rows: BulkheadBenchRow[] = [];

  const row: Record<string, number> = {};
  for (const contender of CONTENDERS) {
    await settle();
    row[contender.name] = await uncontended(contender, iterations, quick ? 3 : 5);
  }
  rows.push({
    scenario: "uncontended acquire+release",
    warden: row["warden"]!,
    cockatiel: row["cockatiel"]!,
    pLimit: row["pLimit"]!,
  });

  for (const depth of [10_000, 200_000]) {
    const cells: Record<string, number> = {};
    for (const contender of CONTENDERS) {
      await settle();
      cells[contender.name] = await perCallAtDepth(contender, depth, calls);
    }
    rows.push({
      scenario: `per call, ${depth.toLocaleString("en-US")} waiting`,
      warden: cells["warden"]!,
      cockatiel: cells["cockatiel"]!,
      pLimit: cells["pLimit"]!,
    });
  }

  console.log(`bulkhead benchmark (node ${process.version}${gc ? ", --expose-gc" : ""})`);
  printTable(rows);
  return rows;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
