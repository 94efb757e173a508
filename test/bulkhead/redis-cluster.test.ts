import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { createBulkhead, type Bulkhead } from "../../src/bulkhead/index.js";
import { redisBulkheadStore } from "../../src/bulkhead/redis/index.js";
import { startRedis, type TestRedis } from "./redis-server.js";
import type { WorkerReport, WorkerTask } from "./redis-worker.js";

// Three processes share one Redis; a second Redis only counts what runs, to
// check the caps over all of them at every instant.
let redis: TestRedis;
let checker: TestRedis;
const children = new Set<ChildProcess>();

before(async () => {
  [redis, checker] = await Promise.all([startRedis(), startRedis()]);
});
after(async () => {
  for (const child of children) child.kill("SIGKILL");
  await Promise.all([redis.stop(), checker.stop()]);
});

const WORKER = fileURLToPath(new URL("./redis-worker.ts", import.meta.url));

function spawnWorker(task: WorkerTask): { child: ChildProcess; next: () => Promise<Record<string, unknown>> } {
  const child = fork(WORKER, { execArgv: ["--import", "tsx"], stdio: ["ignore", "inherit", "inherit", "ipc"] });
  children.add(child);
  child.once("exit", () => children.delete(child));
  const messages: Record<string, unknown>[] = [];
  const waiting: ((message: Record<string, unknown>) => void)[] = [];
  child.on("message", (message: Record<string, unknown>) => {
    const resolve = waiting.shift();
    if (resolve) resolve(message);
    else messages.push(message);
  });
  child.send(task);
  const next = () =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const queued = messages.shift();
      if (queued) return resolve(queued);
      waiting.push(resolve);
      child.once("exit", (code) => reject(new Error(`worker exited (${code}) before reporting`)));
    });
  return { child, next };
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((resolve) => child.once("exit", () => resolve()));
}

function checkReports(reports: Record<string, unknown>[]): void {
  for (const raw of reports) {
    assert.equal(raw["crashed"], undefined, String(raw["crashed"]));
    const report = raw as unknown as WorkerReport;
    assert.deepEqual(report.violations, [], "caps exceeded");
    assert.equal(report.twice, 0, "a request ran twice");
    const rejected = Object.values(report.rejected).reduce((a, b) => a + b, 0);
    assert.equal(report.ran + rejected, report.submitted, "every request ran once or was rejected once");
    assert.ok(
      Object.keys(report.rejected).every((kind) => !kind.startsWith("unexpected")),
      JSON.stringify(report.rejected),
    );
  }
}

async function observer(keyPrefix: string): Promise<Bulkhead> {
  const bulkhead = createBulkhead({
    env: false,
    configFile: false,
    store: redisBulkheadStore({ url: redis.url, keyPrefix, log: false }),
  });
  await bulkhead.ready();
  return bulkhead;
}

async function settled(bulkhead: Bulkhead, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const stats = await bulkhead.fetchStats();
    if (stats.globalConcurrent === 0 && stats.globalQueued + stats.globalBlocked === 0) return;
    if (Date.now() > deadline) assert.fail(`slots or queue places leaked: ${JSON.stringify(stats)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const POLICIES = ["drop_newest", "drop_oldest", "block"] as const;

test("randomized load from three processes: caps never exceeded, each request ran once or was rejected once", async () => {
  for (let run = 0; run < 3; run++) {
    const keyPrefix = `property${run}`;
    const settings = {
      maxConcurrentPerUser: 1 + (run % 2),
      maxConcurrentGlobal: 3 + run,
      maxQueuePerUser: 2 + run,
      maxQueueGlobal: 6,
      queueTimeoutMs: 400,
      overloadPolicy: POLICIES[run % 3]!,
    };
    const workers = [0, 1, 2].map((i) =>
      spawnWorker({
        mode: "load",
        url: redis.url,
        checkerUrl: checker.url,
        keyPrefix,
        leaseTtlMs: 10_000,
        settings,
        seed: 1000 * run + i,
        requests: 60,
        spanMs: 500,
      }),
    );
    for (const started of await Promise.all(workers.map((w) => w.next()))) assert.deepEqual(started, { started: true });
    const reports = await Promise.all(workers.map((w) => w.next()));
    checkReports(reports);
    await Promise.all(workers.map((w) => exited(w.child)));
    const watch = await observer(keyPrefix);
    await settled(watch);
    await watch.close();
  }
});

test("kill -9 of one process gives back its slots and queue places within the lease, and nobody else's", async () => {
  const keyPrefix = "kill";
  const settings = { maxConcurrentPerUser: 1, maxConcurrentGlobal: 4, maxQueuePerUser: 5, maxQueueGlobal: 20 };
  const other = createBulkhead({
    env: false,
    configFile: false,
    ...settings,
    // The survivor's own lease is long: a stall of this busy test process must not cost it its slot.
    store: redisBulkheadStore({ url: redis.url, keyPrefix, leaseTtlMs: 10_000, log: false }),
  });
  const watch = await observer(keyPrefix);
  const victim = spawnWorker({
    mode: "hold",
    url: redis.url,
    checkerUrl: checker.url,
    keyPrefix,
    leaseTtlMs: 2000,
    settings,
    seed: 1,
    requests: 3,
    spanMs: 0,
  });
  try {
    await other.ready();
    const mine = await other.acquire("someone-else");
    assert.deepEqual(await victim.next(), { holding: 3 });
    const before = await watch.fetchStats();
    assert.equal(before.globalConcurrent, 4);
    assert.equal(before.globalQueued, 3);
    const waiter = other.acquire("user0");
    const killedAt = performance.now();
    victim.child.kill("SIGKILL");
    await exited(victim.child);
    const permit = await waiter;
    // The 2 s lease, plus at most one heartbeat (2/3 s) to notice, plus slack for a loaded machine.
    const waited = performance.now() - killedAt;
    assert.ok(waited < 8000, `the dead process's slot came back after ${Math.round(waited)}ms`);
    const after = await watch.fetchStats();
    assert.equal(after.globalConcurrent, 2, "the survivor's two slots, and none of the dead one's");
    assert.equal(after.globalQueued, 0, "the dead process's queue places are gone");
    permit.release();
    mine.release();
    await settled(watch);
  } finally {
    await other.close();
    await watch.close();
  }
});

test("a Redis restart mid-load: caps hold, requests run once or are rejected once, nothing leaks", async (t) => {
  const keyPrefix = "restart";
  const settings = {
    maxConcurrentPerUser: 2,
    maxConcurrentGlobal: 4,
    maxQueuePerUser: 5,
    maxQueueGlobal: 12,
    queueTimeoutMs: 5000,
  };
  const workers = [0, 1, 2].map((i) =>
    spawnWorker({
      mode: "load",
      url: redis.url,
      checkerUrl: checker.url,
      keyPrefix,
      // Long enough that a loaded machine's stalls never cost a live worker its lease (which the checker would see).
      leaseTtlMs: 4000,
      settings,
      seed: 77 + i,
      requests: 150,
      spanMs: 3000,
    }),
  );
  for (const started of await Promise.all(workers.map((w) => w.next()))) assert.deepEqual(started, { started: true });
  await new Promise((resolve) => setTimeout(resolve, 1000));
  await redis.restart(); // SIGKILL: every key is lost, then an empty Redis on the same port
  const reports = await Promise.all(workers.map((w) => w.next()));
  checkReports(reports);
  for (const report of reports) t.diagnostic(JSON.stringify(report));
  assert.ok(reports.every((r) => (r as unknown as WorkerReport).ran > 0));
  assert.ok(
    reports.some((r) => ((r as unknown as WorkerReport).rejected["unavailable"] ?? 0) > 0),
    "the restart fell in the middle of the load (fail closed: some requests got 503)",
  );
  await Promise.all(workers.map((w) => exited(w.child)));
  const watch = await observer(keyPrefix);
  await settled(watch);
  await watch.close();
  const probe = new Redis(checker.url);
  assert.equal(await probe.get("global"), "0");
  probe.disconnect();
});
