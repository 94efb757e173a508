/**
 * Redis bulkhead benchmark: Warden's Redis store against Bottleneck's Redis
 * clustering and redis-semaphore, on one redis-server started for the run,
 * side by side.
 *
 * Each of N callers (1, 16, 256) loops acquire + release of a slot for a
 * fixed time; the caps are above N, so every acquire is uncontended and the
 * figure is the cost of the shared accounting itself. Reported: acquire +
 * release per second, p50/p99 latency of one acquire + release, and the
 * commands each contender sends Redis per acquire + release with one caller,
 * counted by MONITOR (its round trips; the calls inside a Lua script run in
 * Redis and are not counted).
 *
 * Run: node --import tsx bench/bulkhead-redis.ts [--quick]
 * Or:  import { main } from "./bulkhead-redis.js"; await main();
 */
import { pathToFileURL } from "node:url";
import Bottleneck from "bottleneck";
import { Redis } from "ioredis";
import { Semaphore } from "redis-semaphore";
import { createBulkhead } from "../src/bulkhead/index.js";
import { redisBulkheadStore, type RedisBulkheadStoreOptions } from "../src/bulkhead/redis/index.js";
import { countRoundTrips, startRedis } from "../test/bulkhead/redis-server.js";
import { percentile, printTable } from "./stats.js";

/** One contender at one concurrency. */
export interface RedisBenchRow {
  readonly contender: string;
  readonly callers: number;
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

interface Contender {
  readonly name: string;
  /** Makes `callers` acquire + release functions sharing one limit. */
  make(url: string, callers: number, id: string): Promise<{ ops: (() => Promise<void>)[]; close(): Promise<void> }>;
  /** The same, with background timers (heartbeats) slowed down where possible, for counting round trips. */
  quiet?(url: string, id: string): Promise<{ ops: (() => Promise<void>)[]; close(): Promise<void> }>;
}

const CAP = 1000;

async function warden(url: string, callers: number, id: string, extra: RedisBulkheadStoreOptions) {
  const bulkhead = createBulkhead({
    env: false,
    configFile: false,
    maxConcurrentPerUser: CAP,
    maxConcurrentGlobal: CAP,
    store: redisBulkheadStore({ url, keyPrefix: id, log: false, ...extra }),
  });
  await bulkhead.ready();
  const users = Array.from({ length: 16 }, (_, i) => `user-${i}`);
  const ops = Array.from({ length: callers }, (_, i) => async () => {
    (await bulkhead.acquire(users[i % users.length]!)).release();
  });
  return { ops, close: () => bulkhead.close() };
}

const CONTENDERS: readonly Contender[] = [
  {
    name: "warden",
    make: (url, callers, id) => warden(url, callers, id, {}),
    quiet: (url, id) => warden(url, 1, id, { leaseTtlMs: 600_000, statsIntervalMs: 600_000 }),
  },
  {
    name: "bottleneck",
    async make(url, callers, id) {
      const { hostname, port } = new URL(url);
      const limiter = new Bottleneck({
        id,
        maxConcurrent: CAP,
        datastore: "ioredis",
        clearDatastore: true,
        clientOptions: { host: hostname, port: Number(port) },
      });
      await limiter.ready();
      const job = () => Promise.resolve();
      const ops = Array.from({ length: callers }, () => () => limiter.schedule(job));
      return { ops, close: () => limiter.disconnect(false) as unknown as Promise<void> };
    },
  },
  {
    name: "redis-semaphore",
    async make(url, callers, id) {
      const client = new Redis(url);
      // One semaphore object per holder (an object is one lease).
      const semaphores = Array.from({ length: callers }, () => new Semaphore(client, id, CAP, { refreshInterval: 0 }));
      const ops = semaphores.map((semaphore) => async () => {
        await semaphore.acquire();
        await semaphore.release();
      });
      return {
        ops,
        close: async () => {
          client.disconnect();
        },
      };
    },
  },
];

async function measure(ops: (() => Promise<void>)[], ms: number): Promise<{ count: number; latencies: number[] }> {
  const latencies: number[] = [];
  const end = performance.now() + ms;
  await Promise.all(
    ops.map(async (op) => {
      while (performance.now() < end) {
        const start = performance.now();
        await op();
        latencies.push(performance.now() - start);
      }
    }),
  );
  return { count: latencies.length, latencies };
}

/** Runs the benchmark and prints the table; returns the rows. */
export async function main(options: { quick?: boolean } = {}): Promise<RedisBenchRow[]> {
  const quick = options.quick ?? process.argv.includes("--quick");
  const ms = quick ? 500 : 3000;
  const redis = await startRedis();
  const rows: RedisBenchRow[] = [];
  const trips = new Map<string, number>();
  try {
    for (const contender of CONTENDERS) {
      // Round trips: commands sent per acquire + release, one caller, nothing else running.
      {
        const { ops, close } = await (contender.quiet ?? ((url, id) => contender.make(url, 1, id)))(
          redis.url,
          `${contender.name}-trips`,
        );
        for (let i = 0; i < 20; i++) await ops[0]!();
        const n = 200;
        const count = await countRoundTrips(redis.url, async () => {
          for (let i = 0; i < n; i++) await ops[0]!();
        });
        trips.set(contender.name, count / n);
        await close();
      }
      for (const callers of [1, 16, 256]) {
        const { ops, close } = await contender.make(redis.url, callers, `${contender.name}-${callers}`);
        await measure(ops, Math.min(300, ms / 4)); // warm-up
        const { count, latencies } = await measure(ops, ms);
        await close();
        rows.push({
          contender: contender.name,
          callers,
          perSecond: count / (ms / 1000),
          p50Ms: percentile(latencies, 50),
          p99Ms: percentile(latencies, 99),
        });
      }
    }
  } finally {
    await redis.stop();
  }
  const cell = (name: string, callers: number) => rows.find((r) => r.contender === name && r.callers === callers)!;
  printTable(
    `Redis bulkhead: acquire + release per second (p50 / p99 ms), ${ms} ms per cell, one redis-server`,
    ["callers", ...CONTENDERS.map((c) => c.name)],
    [1, 16, 256].map((callers) => [
      String(callers),
      ...CONTENDERS.map((c) => {
        const r = cell(c.name, callers);
        return `${Math.round(r.perSecond).toLocaleString("en")}/s (${r.p50Ms.toFixed(2)} / ${r.p99Ms.toFixed(2)})`;
      }),
    ]),
  );
  printTable(
    "Redis commands (round trips) per uncontended acquire + release",
    CONTENDERS.map((c) => c.name),
    [CONTENDERS.map((c) => trips.get(c.name)!.toFixed(2))],
  );
  return rows;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
