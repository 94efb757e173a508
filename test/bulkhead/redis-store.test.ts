import { after, afterEach, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { Redis } from "ioredis";
import {
  isOverloadError,
  isQueueTimeoutError,
  isAbortedError,
  isStoreUnavailableError,
  type OverloadError,
} from "../../src/errors/index.js";
import {
  renderBulkheadError,
  type Bulkhead,
  type BulkheadOptions,
  type BulkheadPermit,
} from "../../src/bulkhead/index.js";
import { redisBulkheadStore, type RedisBulkheadStoreOptions } from "../../src/bulkhead/redis/index.js";
import { closeBulkheads, deferred, makeBulkhead, observe, sleep } from "./helpers.js";
import { countRoundTrips, startRedis, type TestRedis } from "./redis-server.js";

let redis: TestRedis;
let prefixes = 0;

before(async () => {
  redis = await startRedis();
});
after(async () => {
  await closeBulkheads();
  await redis.stop();
});
afterEach(closeBulkheads);

/** Instances of one cluster: the same Redis and key prefix. */
function cluster(settings: BulkheadOptions = {}, store: RedisBulkheadStoreOptions = {}) {
  const keyPrefix = `test${++prefixes}`;
  return async (extra: RedisBulkheadStoreOptions = {}, now?: () => number): Promise<Bulkhead> => {
    const bulkhead = makeBulkhead({
      ...settings,
      ...(now === undefined ? {} : { now }),
      // Heartbeats far apart unless a test asks otherwise: grants must come by notification, not by a periodic task.
      store: redisBulkheadStore({
        url: redis.url,
        keyPrefix,
        log: false,
        leaseTtlMs: 600_000,
        statsIntervalMs: 600_000,
        ...store,
        ...extra,
      }),
    });
    await bulkhead.ready();
    return bulkhead;
  };
}

async function until(condition: () => boolean | Promise<boolean>, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

describe("the Redis store", () => {
  test("per-user and global caps hold across instances together", async () => {
    const join = cluster({ maxConcurrentPerUser: 2, maxConcurrentGlobal: 3, maxQueuePerUser: 10, queueTimeoutMs: 0 });
    const [a, b] = [await join(), await join()];
    const a1 = await a.acquire("u");
    const b1 = await b.acquire("u");
    const third = observe(a.acquire("u"));
    const other = await b.acquire("v");
    const fourth = observe(b.acquire("w"));
    await sleep(50);
    assert.equal(third.state, "pending", "the user's two slots are taken on two instances");
    assert.equal(fourth.state, "pending", "the global three are taken");
    const stats = await a.fetchStats();
    assert.equal(stats.globalConcurrent, 3);
    assert.equal(stats.globalQueued, 2);
    b1.release();
    // w has waited in the ring since it arrived; u joins it behind w.
    await until(() => fourth.state === "fulfilled", "w, on B, gets the slot freed on B first");
    assert.equal(third.state, "pending");
    other.release();
    await until(() => third.state === "fulfilled", "u's waiter on A gets the next slot");
    for (const permit of [a1, third.value!, fourth.value!]) permit.release();
    await until(async () => (await a.fetchStats()).activeRequests === 0, "everything released");
  });

  test("round robin across users, first in first out within a user, cluster-wide", async () => {
    const join = cluster({ maxConcurrentPerUser: 5, maxConcurrentGlobal: 1, maxQueuePerUser: 10, maxQueueGlobal: 50 });
    const [a, b] = [await join(), await join()];
    const holder = await a.acquire("x");
    const order: string[] = [];
    const runs: Promise<unknown>[] = [];
    // Each arrival is in Redis's queue before the next is sent, so the arrival order is known.
    const arrive = async (bulkhead: Bulkhead, user: string, name: string): Promise<void> => {
      const before = (await a.fetchStats()).globalQueued;
      runs.push(bulkhead.limit(user, () => void order.push(name)));
      await until(async () => (await a.fetchStats()).globalQueued === before + 1, `${name} queued`);
    };
    for (let i = 0; i < 4; i++) await arrive(a, "heavy", `heavy${i}`);
    await arrive(b, "light", "light0");
    await arrive(b, "light", "light1");
    holder.release();
    await Promise.all(runs);
    assert.deepEqual(order, ["heavy0", "light0", "heavy1", "light1", "heavy2", "heavy3"]);
  });

  test("user ids may hold any characters (colons, bars, spaces, unicode)", async () => {
    const join = cluster({ maxConcurrentPerUser: 1, maxQueuePerUser: 1, overloadPolicy: "drop_oldest" });
    const [a, b] = [await join(), await join()];
    const user = "team:42|x y ✓";
    const held = await a.acquire(user);
    const first = observe(b.acquire(user));
    await until(async () => (await a.fetchStats()).globalQueued === 1, "queued");
    const second = observe(a.acquire(user));
    await until(() => first.state === "rejected", "the oldest waiter, on B, is evicted");
    assert.ok(isOverloadError(first.error) && first.error.scope === "user");
    held.release();
    await until(() => second.state === "fulfilled", "the newcomer gets the slot");
    assert.deepEqual(
      (await a.fetchStats()).users.map((u) => [u.userId, u.concurrent]),
      [[user, 1]],
    );
    second.value!.release();
  });

  test("overload policies: drop_newest, drop_oldest and block", async () => {
    const newest = cluster({ maxConcurrentPerUser: 1, maxQueuePerUser: 1, overloadPolicy: "drop_newest" });
    const [a, b] = [await newest(), await newest()];
    const held = await a.acquire("u");
    const waiting = observe(b.acquire("u"));
    await until(async () => (await a.fetchStats()).globalQueued === 1, "queued");
    const error = await a.acquire("u").catch((e: unknown) => e);
    assert.ok(isOverloadError(error) && error.scope === "user" && error.queued === 1 && error.capacity === 1);
    held.release();
    await until(() => waiting.state === "fulfilled", "the waiter keeps its place");
    waiting.value!.release();

    const oldest = cluster({ maxConcurrentPerUser: 1, maxQueuePerUser: 1, overloadPolicy: "drop_oldest" });
    const [c, d] = [await oldest(), await oldest()];
    const held2 = await c.acquire("u");
    const first = observe(d.acquire("u"));
    await until(async () => (await c.fetchStats()).globalQueued === 1, "queued");
    const second = observe(c.acquire("u"));
    await until(() => first.state === "rejected", "the oldest waiter, on the other instance, is dropped");
    assert.ok(isOverloadError(first.error) && first.error.scope === "user");
    held2.release();
    await until(() => second.state === "fulfilled", "the newcomer runs");
    second.value!.release();

    const block = cluster({ maxConcurrentPerUser: 1, maxQueuePerUser: 0, overloadPolicy: "block" });
    const [e, f] = [await block(), await block()];
    const held3 = await e.acquire("u");
    const blocked = observe(f.acquire("u"));
    await until(async () => (await e.fetchStats()).globalBlocked === 1, "blocked, counted over the caps");
    held3.release();
    await until(() => blocked.state === "fulfilled", "the blocked request runs");
    blocked.value!.release();
  });

  test("queue timeout (408) and abort take the waiter out of Redis", async () => {
    const join = cluster({ maxConcurrentPerUser: 1, queueTimeoutMs: 200 });
    const a = await join();
    const held = await a.acquire("u");
    const controller = new AbortController();
    const aborted = observe(a.acquire("u", { signal: controller.signal }));
    const timed = observe(a.acquire("u"));
    await sleep(50);
    controller.abort();
    await until(() => aborted.state === "rejected", "abort");
    assert.ok(isAbortedError(aborted.error));
    await until(() => timed.state === "rejected", "timeout");
    assert.ok(isQueueTimeoutError(timed.error));
    await until(async () => (await a.fetchStats()).globalQueued === 0, "the queue is empty in Redis");
    held.release();
    await until(async () => (await a.fetchStats()).globalConcurrent === 0, "no slot left");
  });

  test("an uncontended acquire + release costs at most 2 round trips", async () => {
    // A long lease and stats interval: no heartbeat falls into the count.
    const join = cluster({ maxConcurrentPerUser: 5 }, { leaseTtlMs: 600_000, statsIntervalMs: 600_000 });
    const a = await join();
    await a.limit("warm", () => undefined);
    const n = 50;
    const trips = await countRoundTrips(redis.url, async () => {
      for (let i = 0; i < n; i++) (await a.acquire(`user${i % 3}`)).release();
      await a.limit("last", () => undefined);
    });
    assert.equal(trips / (n + 1), 2, `${trips} round trips for ${n + 1} acquire + release`);
  });

  test("leases are on Redis's clock: instances with skewed clocks change nothing", async () => {
    const join = cluster({ maxConcurrentPerUser: 1, maxConcurrentGlobal: 2 }, { leaseTtlMs: 4000 });
    const ahead = await join({}, () => performance.now() + 86_400_000);
    const behind = await join({}, () => performance.now() - 86_400_000);
    const realNow = Date.now;
    // Even the wall clock of this process runs a day ahead: the store never reads it for leases.
    Date.now = () => realNow() + 86_400_000;
    try {
      const p1 = await ahead.acquire("u");
      const waiter = observe(behind.acquire("u"));
      await sleep(6000); // well past the lease: renewed, so the slot stays held
      assert.equal(waiter.state, "pending");
      assert.equal((await behind.fetchStats()).globalConcurrent, 1);
      p1.release();
      await until(() => waiter.state === "fulfilled", "the waiter gets the slot");
      waiter.value!.release();
    } finally {
      Date.now = realNow;
    }
  });

  test("stats and Retry-After come from the whole cluster", async () => {
    const join = cluster({ maxConcurrentPerUser: 2, maxConcurrentGlobal: 2, maxQueuePerUser: 100, maxQueueGlobal: 4 });
    const [a, b] = [await join({ statsIntervalMs: 50 }), await join({ statsIntervalMs: 50 })];
    const work = () => sleep(20);
    // Everything runs on A; B only watches.
    const burst = async (): Promise<OverloadError[]> =>
      (
        await Promise.all(Array.from({ length: 20 }, (_, i) => a.limit(`u${i % 3}`, work).catch((e: unknown) => e)))
      ).filter(isOverloadError);
    // Load in bursts until the cluster's drain rate has been measured (it needs waiting across two readings).
    const rejected: OverloadError[] = [];
    for (let n = 0; b.stats().drainRatePerSecond === undefined; n++) {
      assert.ok(n < 200, "no drain rate measured");
      rejected.push(...(await burst()));
    }
    rejected.push(...(await burst()));
    assert.ok(rejected.length > 0);
    assert.ok(rejected.every((e) => e.retryAfter >= 1));
    const stats = b.stats();
    assert.ok(stats.drainRatePerSecond! > 0, "B measures the drain of requests that ran on A");
    assert.equal(stats.store?.kind, "redis");
    assert.equal(stats.store?.state, "connected");
    // B's own rejections are advised from that rate too.
    const blocker = [await a.acquire("x"), await a.acquire("y")];
    const fill = Array.from({ length: 4 }, () => b.acquire("z").catch((e: unknown) => e));
    await until(async () => (await b.fetchStats()).globalQueued === 4, "the global queue is full");
    const advised = await b.acquire("w").catch((e: unknown) => e);
    assert.ok(isOverloadError(advised) && advised.scope === "global" && advised.retryAfter >= 1);
    for (const permit of blocker) permit.release();
    for (const result of await Promise.all(fill)) if (!(result instanceof Error)) (result as BulkheadPermit).release();
  });

  test("idle users leave the cluster's stats after idleUserTtlMs", async () => {
    const join = cluster({ idleUserTtlMs: 300 }, { statsIntervalMs: 50 });
    const a = await join();
    (await a.acquire("idle")).release();
    await until(() => a.stats().users.some((u) => u.userId === "idle"), "the user is listed");
    await until(() => a.stats().users.every((u) => u.userId !== "idle"), "the idle user is forgotten");
  });

  test("unreachable at start: a clear error", async () => {
    const bulkhead = makeBulkhead({
      store: redisBulkheadStore({ url: "redis://127.0.0.1:1", log: false }),
    });
    const error = await bulkhead.ready().catch((e: unknown) => e);
    assert.ok(isStoreUnavailableError(error));
    assert.match(error.message, /cannot reach Redis at redis:\/\/127\.0\.0\.1:1 at start/);
    const call = await bulkhead.acquire("u").catch((e: unknown) => e);
    assert.equal(call, error);
  });

  test("the store setting and the environment select Redis", async () => {
    const bulkhead = makeBulkhead({
      env: { WARDEN_BULKHEAD_STORE: "redis", WARDEN_BULKHEAD_REDIS_URL: redis.url },
      redisKeyPrefix: `test${++prefixes}`,
    });
    await bulkhead.ready();
    const permit = await bulkhead.acquire("u");
    assert.equal((await bulkhead.fetchStats()).globalConcurrent, 1);
    permit.release();
    assert.equal(bulkhead.config.sources.store, "env");
  });
});

describe("the redis subpath", () => {
  test('import "warden" never loads ioredis; the store setting loads it when used', () => {
    const script = [
      'import { createRequire } from "node:module";',
      'await import("./src/index.ts");',
      "const loaded = () => Object.keys(createRequire(import.meta.url).cache).some((k) => k.includes('/ioredis/'));",
      "const core = loaded();",
      'const { createBulkhead } = await import("./src/index.ts");',
      "const b = createBulkhead({ env: false, configFile: false, store: 'redis', redisUrl: 'redis://127.0.0.1:1' });",
      "await b.ready().catch(() => undefined);",
      "console.log(JSON.stringify({ core, used: loaded() }));",
      "await b.close();",
    ].join("\n");
    const out = execFileSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    });
    assert.deepEqual(JSON.parse(out), { core: false, used: true });
  });

  test("bad store options are refused by name", () => {
    assert.throws(() => redisBulkheadStore({ leaseTtlMs: 0 }), /the option leaseTtlMs of redisBulkheadStore/);
    assert.throws(() => redisBulkheadStore({ url: "http://x" }), /not a Redis URL/);
    assert.throws(() => redisBulkheadStore({ keyPrefix: "a b" }), /spaces or braces/);
    assert.throws(() => redisBulkheadStore({ onFailure: "sometimes" as "open" }), /unknown failure mode/);
    assert.throws(() => redisBulkheadStore({ instanceId: "a:b" }), TypeError);
    assert.throws(() => redisBulkheadStore({ redisOptions: { keyPrefix: "x:" } }), /use the keyPrefix option/);
  });
});

describe("when Redis goes away", () => {
  test("fail closed: waiters and newcomers get a 503 with Retry-After; on return the state converges", async () => {
    const own = await startRedis();
    try {
      const logged: string[] = [];
      const join = async () => {
        const b = makeBulkhead({
          maxConcurrentPerUser: 1,
          store: redisBulkheadStore({
            url: own.url,
            keyPrefix: "closed",
            log: (message) => logged.push(message),
            leaseTtlMs: 2000,
          }),
        });
        await b.ready();
        return b;
      };
      const a = await join();
      const held = await a.acquire("u");
      const waiter = observe(a.acquire("u"));
      await sleep(50);
      await own.kill();
      await until(() => waiter.state === "rejected", "the waiter is rejected");
      assert.ok(isStoreUnavailableError(waiter.error));
      const rendered = renderBulkheadError(waiter.error)!;
      assert.equal(rendered.status, 503);
      assert.ok(Number(rendered.headers["retry-after"]) >= 1);
      const refused = await a.acquire("v").catch((e: unknown) => e);
      assert.ok(isStoreUnavailableError(refused));
      assert.equal(a.stats().store?.state, "unavailable");
      assert.ok(a.stats().store!.outages >= 1);
      await own.restart();
      await until(() => a.stats().store?.state === "connected", "reconnected", 20_000);
      assert.equal((await a.fetchStats()).globalConcurrent, 1, "the slot still running is counted again");
      assert.ok(logged.some((m) => /^lost Redis at redis:\/\/127\.0\.0\.1:\d+; rejecting requests with 503/.test(m)));
      assert.ok(
        logged.some((m) => /is back; this instance re-joined with 1 running slot$/.test(m)),
        logged.join("\n"),
      );
      assert.ok(a.stats().store!.rejectedUnavailable >= 2, "the waiter and the newcomer are counted");
      held.release();
      await until(async () => (await a.fetchStats()).globalConcurrent === 0, "no slot leaked");
    } finally {
      await closeBulkheads();
      await own.stop();
    }
  });

  test("a Redis that refuses writes (out of memory) counts as gone, and the instance re-joins when it accepts them", async () => {
    const own = await startRedis();
    const admin = new Redis(own.url);
    try {
      const a = makeBulkhead({
        maxConcurrentPerUser: 2,
        store: redisBulkheadStore({ url: own.url, keyPrefix: "oom", log: false, statsIntervalMs: 100 }),
      });
      await a.ready();
      const held = await a.acquire("u");
      await admin.config("SET", "maxmemory", "1");
      const refused = await a.acquire("u").catch((e: unknown) => e);
      assert.ok(isStoreUnavailableError(refused), String(refused));
      assert.equal(a.stats().store?.state, "unavailable");
      await admin.config("SET", "maxmemory", "0");
      await until(() => a.stats().store?.state === "connected", "re-joined");
      assert.equal((await a.fetchStats()).globalConcurrent, 1);
      held.release();
      await until(async () => (await a.fetchStats()).globalConcurrent === 0, "no slot leaked");
    } finally {
      admin.disconnect();
      await closeBulkheads();
      await own.stop();
    }
  });

  test("Redis loses its data under a live connection (FLUSHALL): the instance notices, re-joins, nothing is lost", async () => {
    const own = await startRedis();
    const admin = new Redis(own.url);
    try {
      const a = makeBulkhead({
        maxConcurrentPerUser: 5,
        store: redisBulkheadStore({ url: own.url, keyPrefix: "flush", log: false, leaseTtlMs: 2000 }),
      });
      await a.ready();
      const held = await a.acquire("u");
      await admin.flushall();
      // The next call finds no lease, re-joins with the slot it holds, and waits out the pause after lost data.
      const second = await a.acquire("u");
      assert.equal((await a.fetchStats()).globalConcurrent, 2);
      held.release();
      second.release();
      await until(async () => (await a.fetchStats()).globalConcurrent === 0, "no slot leaked");
    } finally {
      admin.disconnect();
      await closeBulkheads();
      await own.stop();
    }
  });

  test("fail open: this instance's own caps; on return its slots join the cluster", async () => {
    const own = await startRedis();
    try {
      const a = makeBulkhead({
        maxConcurrentPerUser: 2,
        maxQueuePerUser: 5,
        store: redisBulkheadStore({ url: own.url, keyPrefix: "open", log: false, onFailure: "open", leaseTtlMs: 2000 }),
      });
      await a.ready();
      const held = await a.acquire("u");
      await own.kill();
      await until(() => a.stats().store?.state === "fallback", "fallback");
      const second = await a.acquire("u");
      const third = observe(a.acquire("u"));
      await sleep(50);
      assert.equal(third.state, "pending", "the local cap of 2 holds, counting the slot taken before");
      assert.ok(a.stats().store!.admittedOnFallback >= 1);
      await own.restart();
      await until(() => a.stats().store?.state === "connected", "reconnected", 20_000);
      assert.equal((await a.fetchStats()).globalConcurrent, 2);
      held.release();
      await until(() => third.state === "fulfilled", "the waiter moved to Redis and got the slot");
      second.release();
      third.value!.release();
      await until(async () => (await a.fetchStats()).globalConcurrent === 0, "no slot leaked");
    } finally {
      await closeBulkheads();
      await own.stop();
    }
  });
});

void deferred;
