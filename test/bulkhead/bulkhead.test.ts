import { afterEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { getEventListeners } from "node:events";
import {
  isAbortedError,
  isDisposedError,
  isOverloadError,
  isQueueTimeoutError,
  OverloadError,
} from "../../src/errors/index.js";
import {
  createBulkhead,
  memoryStore,
  type Bulkhead,
  type BulkheadPermit,
  type BulkheadStoreFactory,
} from "../../src/bulkhead/index.js";
import { closeBulkheads, deferred, flush, makeBulkhead, observe, sleep, type Observed } from "./helpers.js";

afterEach(closeBulkheads);

/** Acquires without awaiting, so the caller can watch the queue. */
function take(bulkhead: Bulkhead, userId: string, signal?: AbortSignal): Observed<BulkheadPermit> {
  return observe(bulkhead.acquire(userId, signal ? { signal } : {}));
}

function userStats(bulkhead: Bulkhead, userId: string) {
  return bulkhead.stats().users.find((u) => u.userId === userId);
}

describe("acceptance criteria of the original limiter", () => {
  test("caps concurrency per user: the fourth request of a user with 3 slots waits", async () => {
    const bulkhead = makeBulkhead({ maxConcurrentPerUser: 3 });
    const requests = [1, 2, 3, 4].map(() => take(bulkhead, "user1"));
    await flush();
    assert.deepEqual(
      requests.map((r) => r.state),
      ["fulfilled", "fulfilled", "fulfilled", "pending"],
    );
    assert.deepEqual(
      { ...userStats(bulkhead, "user1"), lastActivity: 0 },
      { userId: "user1", concurrent: 3, queued: 1, blocked: 0, lastActivity: 0 },
    );
    requests[0]!.value!.release();
    await flush();
    assert.equal(requests[3]!.state, "fulfilled", "the waiter gets the freed slot");
    for (const r of requests.slice(1)) r.value!.release();
  });

  test("caps the queue: of 15 requests, 3 run, 10 wait and 2 get OverloadError", async () => {
    const bulkhead = makeBulkhead({ maxConcurrentPerUser: 3, maxQueuePerUser: 10 });
    const requests = Array.from({ length: 15 }, () => take(bulkhead, "user1"));
    await flush();
    const states = requests.map((r) => r.state);
    assert.equal(states.filter((s) => s === "fulfilled").length, 3);
    assert.equal(states.filter((s) => s === "pending").length, 10);
    const rejected = requests.filter((r) => r.state === "rejected");
    assert.equal(rejected.length, 2);
    for (const r of rejected) {
      assert.ok(isOverloadError(r.error));
      assert.equal(r.error.message, "User queue full (10/10). Too many concurrent requests.");
      assert.equal(r.error.scope, "user");
      assert.equal(r.error.queued, 10);
      assert.equal(r.error.capacity, 10);
    }
    await bulkhead.close();
  });

  test("a full queue answers 429 with a whole-second Retry-After", async () => {
    const bulkhead = makeBulkhead({ maxConcurrentPerUser: 1, maxQueuePerUser: 0 });
    const holder = await bulkhead.acquire("u");
    const error = await bulkhead.acquire("u").catch((e: unknown) => e);
    assert.ok(error instanceof OverloadError);
    assert.equal(error.status, 429);
    assert.equal(error.code, "WARDEN_OVERLOADED");
    assert.ok(Number.isInteger(error.retryAfter) && error.retryAfter >= 1);
    assert.equal(error.retryAfter, 5, "no drain measured yet: the base");
    assert.deepEqual(error.toJSON(), {
      name: "OverloadError",
      code: "WARDEN_OVERLOADED",
      status: 429,
      message: "User queue full (0/0). Too many concurrent requests.",
      scope: "user",
      retryAfter: 5,
    });
    holder.release();
  });

  test("a load spike yields some successes and some 429s, each with a Retry-After", async () => {
    const bulkhead = makeBulkhead({ maxConcurrentPerUser: 3, maxQueuePerUser: 10, queueTimeoutMs: 5000 });
    const results = await Promise.allSettled(
      Array.from({ length: 100 }, (_, i) =>
        bulkhead.limit("heavy_user", async () => {
          await sleep(5);
          return i;
        }),
      ),
    );
    const ok = results.filter((r) => r.status === "fulfilled");
    const errors = results.flatMap((r) => (r.status === "rejected" ? [r.reason as unknown] : []));
    assert.equal(ok.length, 13, "3 running + 10 queued");
    assert.equal(errors.length, 87);
    assert.ok(errors.every((e) => isOverloadError(e) && e.status === 429 && e.retryAfter >= 1));
  });

  test("the queue drains to 0 after the load subsides", async () => {
    const bulkhead = makeBulkhead({ maxConcurrentPerUser: 2, maxQueuePerUser: 5, maxConcurrentGlobal: 4 });
    const users = ["a", "b", "c"];
    const all = users.flatMap((user) =>
      Array.from({ length: 7 }, () => bulkhead.limit(user, () => sleep(3)).catch(() => undefined)),
    );
    await flush();
    const busy = bulkhead.stats();
    assert.equal(busy.globalConcurrent, 4);
    assert.ok(busy.globalQueued > 0);
    await Promise.all(all);
    const idle = bulkhead.stats();
    assert.equal(idle.globalConcurrent, 0);
    assert.equal(idle.globalQueued, 0);
    assert.equal(idle.activeRequests, 0);
    assert.ok(idle.users.every((u) => u.concurrent === 0 && u.queued === 0));
  });
});

describe("semantics", () => {
  test("requests of one user run first in, first out", async () => {
    const bulkhead = makeBulkhead({ maxConcurrentPerUser: 1 });
    const order: number[] = [];
    await Promise.all(
      [0, 1, 2, 3, 4].map((i) =>
        bulkhead.limit("u", async () => {
          order.push(i);
          await flush();
        }),
      ),
    );
    assert.deepEqual(order, [0, 1, 2, 3, 4]);
  });

  test("the global cap holds across users", async () => {
    const bulkhead = makeBulkhead({ maxConcurrentPerUser: 3, maxConcurrentGlobal: 5, maxQueueGlobal: 100 });
    let running = 0;
    let peak = 0;
    await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        bulkhead.limit(`user${i % 10}`, async () => {
          peak = Math.max(peak, ++running);
          await sleep(1);
          running--;
        }),
      ),
    );
    assert.equal(peak, 5);
  });

  test("a full global queue rejects with the global message", async () => {
    const bulkhead = makeBulkhead({ maxConcurrentGlobal: 1, maxQueueGlobal: 2 });
    const holder = take(bulkhead, "a");
    const waiters = [take(bulkhead, "b"), take(bulkhead, "c")];
    const error = await bulkhead.acquire("d").catch((e: unknown) => e);
    assert.ok(isOverloadError(error));
    assert.equal(error.scope, "global");
    assert.equal(error.message, "Global queue full (2/2). System is overloaded.");
    await flush();
    holder.value!.release();
    await flush();
    assert.deepEqual(
      waiters.map((w) => w.state),
      ["fulfilled", "pending"],
    );
    await bulkhead.close();
  });

  test("freed slots go round robin across users: a heavy user cannot starve light ones", async () => {
    const bulkhead = makeBulkhead({ maxConcurrentPerUser: 1, maxConcurrentGlobal: 1 });
    const order: string[] = [];
    const job = (user: string) => bulkhead.limit(user, () => void order.push(user));
    const first = deferred();
    const holder = bulkhead.limit("A", () => first.promise); // A holds the only slot
    const jobs = [job("A"), job("A"), job("A"), job("A"), job("B"), job("B"), job("C")];
    first.resolve();
    await Promise.all([holder, ...jobs]);
    // A's four waiters arrived first, yet B and C are served in turn with A.
    assert.deepEqual(order, ["B", "C", "A", "B", "A", "A", "A"]);
  });

  test("a light user arriving behind a heavy backlog is served within one turn", async () => {
    const bulkhead = makeBulkhead({ maxConcurrentPerUser: 5, maxConcurrentGlobal: 2, maxQueueGlobal: 100 });
    const heavy = Array.from({ length: 20 }, () => take(bulkhead, "heavy"));
    await flush();
    const light = take(bulkhead, "light");
    // The heavy user was waiting for a global slot first and gets the next one; the light user the one after.
    heavy[0]!.value!.release();
    await flush();
    assert.equal(light.state, "pending");
    heavy[1]!.value!.release();
    await flush();
    assert.equal(light.state, "fulfilled");
    assert.equal(heavy.filter((h) => h.state === "fulfilled").length, 3, "not the heavy user's whole backlog first");
    await bulkhead.close();
  });

  test("limit passes the signal, returns the result and releases the slot whatever happens", async () => {
    const bulkhead = makeBulkhead({ maxConcurrentPerUser: 1 });
    const controller = new AbortController();
    const seen = await bulkhead.limit("u", (signal) => signal, { signal: controller.signal });
    assert.equal(seen, controller.signal);
    await assert.rejects(
      bulkhead.limit("u", () => {
        throw new Error("sync boom");
      }),
      /sync boom/,
    );
    await assert.rejects(
      bulkhead.limit("u", async () => Promise.reject(new Error("async boom"))),
      /async boom/,
    );
    assert.equal(await bulkhead.limit("u", () => 42), 42);
    assert.equal(userStats(bulkhead, "u")!.concurrent, 0);
    const noSignal = await bulkhead.limit("u", (signal) => signal.aborted);
    assert.equal(noSignal, false, "a never-aborted signal by default");
  });

  test("queued tasks that throw at once do not recurse once per waiter", async () => {
    const bulkhead = makeBulkhead({ maxConcurrentPerUser: 1, maxQueuePerUser: -1, maxQueueGlobal: -1 });
    const gate = deferred();
    const first = bulkhead.limit("u", () => gate.promise);
    const failing = Array.from({ length: 20_000 }, () =>
      bulkhead.limit("u", () => {
        throw new Error("at once");
      }),
    );
    gate.resolve();
    await first;
    const results = await Promise.allSettled(failing);
    assert.ok(results.every((r) => r.status === "rejected" && (r.reason as Error).message === "at once"));
    assert.equal(bulkhead.stats().activeRequests, 0);
  });

  test("release is idempotent", async () => {
    const bulkhead = makeBulkhead({ maxConcurrentPerUser: 2 });
    const a = await bulkhead.acquire("u");
    const b = await bulkhead.acquire("u");
    a.release();
    a.release();
    a.release();
    assert.equal(a.released, true);
    assert.equal(userStats(bulkhead, "u")!.concurrent, 1, "one release, one slot");
    b.release();
    assert.equal(userStats(bulkhead, "u")!.concurrent, 0);
  });

  test("permits and bulkheads are disposables", async () => {
    const bulkhead = makeBulkhead({ maxConcurrentPerUser: 1 });
    const permit = await bulkhead.acquire("u");
    permit[Symbol.dispose]();
    assert.equal(permit.released, true);
    assert.equal(userStats(bulkhead, "u")!.concurrent, 0);
    await bulkhead[Symbol.asyncDispose]();
    assert.equal(bulkhead.closed, true);
  });

  test("a bad user id is a TypeError", async () => {
    const bulkhead = makeBulkhead();
    await assert.rejects(bulkhead.acquire(42 as unknown as string), /userId must be a string, got number 42/);
    await assert.rejects(
      bulkhead.limit(undefined as unknown as string, () => 1),
      TypeError,
    );
  });

  test("0 or -1 concurrency means no cap; a queue of 0 means no waiting", async () => {
    const unlimited = makeBulkhead({ maxConcurrentPerUser: -1, maxConcurrentGlobal: 0 });
    const permits = await Promise.all(Array.from({ length: 1000 }, () => unlimited.acquire("u")));
    assert.equal(unlimited.stats().globalConcurrent, 1000);
    for (const p of permits) p.release();

    const noQueue = makeBulkhead({ maxConcurrentPerUser: 1, maxQueuePerUser: 0 });
    const holder = await noQueue.acquire("u");
    await assert.rejects(noQueue.acquire("u"), (e: unknown) => isOverloadError(e) && e.scope === "user");
    holder.release();
  });

  test("stats report counters, users and the settings", async () => {
    const bulkhead = makeBulkhead({ maxConcurrentPerUser: 1, maxQueuePerUser: 3 });
    const before = Date.now();
    const a = take(bulkhead, "a");
    const waiting = [take(bulkhead, "a"), take(bulkhead, "a")];
    const b = take(bulkhead, "b");
    await flush();
    const stats = bulkhead.stats();
    assert.equal(stats.globalConcurrent, 2);
    assert.equal(stats.globalQueued, 2);
    assert.equal(stats.globalBlocked, 0);
    assert.equal(stats.totalUsers, 2);
    assert.equal(stats.activeRequests, 4);
    assert.equal(stats.config.maxQueuePerUser, 3);
    const user = stats.users.find((u) => u.userId === "a")!;
    assert.equal(user.concurrent, 1);
    assert.equal(user.queued, 2);
    assert.ok(user.lastActivity >= before - 1500 && user.lastActivity <= Date.now() + 1, "epoch milliseconds");
    a.value!.release();
    b.value!.release();
    await bulkhead.close();
    assert.ok(waiting.every((w) => w.state !== "rejected" || isDisposedError(w.error)));
  });

  test("state of idle users is dropped after idleUserTtlMs; busy users are kept", async () => {
    const bulkhead = makeBulkhead({ idleUserTtlMs: 20 });
    await bulkhead.limit("idle", () => undefined);
    const busy = await bulkhead.acquire("busy");
    assert.equal(bulkhead.stats().totalUsers, 2);
    await sleep(120);
    assert.deepEqual(
      bulkhead.stats().users.map((u) => u.userId),
      ["busy"],
    );
    busy.release();
  });

  test("createBulkhead reads the environment it is given", async () => {
    const bulkhead = createBulkhead({
      env: { WARDEN_BULKHEAD_POLICY: "block" },
      configFile: false,
      maxQueuePerUser: 2,
    });
    try {
      assert.equal(bulkhead.config.overloadPolicy, "block");
      assert.equal(bulkhead.config.sources.overloadPolicy, "env");
      assert.equal(bulkhead.config.maxQueuePerUser, 2);
      assert.equal(bulkhead.config.sources.maxQueuePerUser, "option");
    } finally {
      await bulkhead.close();
    }
  });
});

describe("overload policies", () => {
  test("drop_newest rejects the newcomer; the waiters keep their places", async () => {
    const bulkhead = makeBulkhead({ maxConcurrentPerUser: 1, maxQueuePerUser: 2, overloadPolicy: "drop_newest" });
    const holder = take(bulkhead, "u");
    const waiters = [take(bulkhead, "u"), take(bulkhead, "u")];
    const newcomer = take(bulkhead, "u");
    await flush();
    assert.ok(isOverloadError(newcomer.error));
    assert.deepEqual(
      waiters.map((w) => w.state),
      ["pending", "pending"],
    );
    holder.value!.release();
    await flush();
    assert.equal(waiters[0]!.state, "fulfilled");
    await bulkhead.close();
  });

  test("drop_oldest rejects the user's oldest waiter and queues the newcomer", async () => {
    const bulkhead = makeBulkhead({ maxConcurrentPerUser: 1, maxQueuePerUser: 2, overloadPolicy: "drop_oldest" });
    const holder = take(bulkhead, "u");
    const [oldest, middle] = [take(bulkhead, "u"), take(bulkhead, "u")];
    const newcomer = take(bulkhead, "u");
    await flush();
    assert.equal(oldest!.state, "rejected");
    assert.ok(isOverloadError(oldest!.error));
    assert.equal(oldest!.error.scope, "user");
    assert.equal(oldest!.error.message, "User queue full (2/2). Too many concurrent requests.");
    assert.equal(newcomer.state, "pending");
    assert.equal(userStats(bulkhead, "u")!.queued, 2);
    holder.value!.release();
    await flush();
    assert.equal(middle!.state, "fulfilled");
    middle!.value!.release();
    await flush();
    assert.equal(newcomer.state, "fulfilled");
    newcomer.value!.release();
  });

  test("drop_oldest rejects the oldest waiter of any user when the global queue is full", async () => {
    const bulkhead = makeBulkhead({
      maxConcurrentGlobal: 1,
      maxQueueGlobal: 2,
      maxQueuePerUser: 5,
      overloadPolicy: "drop_oldest",
    });
    const holder = take(bulkhead, "a");
    const oldest = take(bulkhead, "b");
    const second = take(bulkhead, "c");
    const newcomer = take(bulkhead, "d");
    await flush();
    assert.ok(isOverloadError(oldest.error));
    assert.equal(oldest.error.scope, "global");
    assert.equal(oldest.error.message, "Global queue full (2/2). System is overloaded.");
    assert.equal(second.state, "pending");
    assert.equal(newcomer.state, "pending");
    holder.value!.release();
    await bulkhead.close();
  });

  test("drop_oldest with no waiting room rejects the newcomer", async () => {
    const bulkhead = makeBulkhead({ maxConcurrentPerUser: 1, maxQueuePerUser: 0, overloadPolicy: "drop_oldest" });
    const holder = await bulkhead.acquire("u");
    await assert.rejects(bulkhead.acquire("u"), (e: unknown) => isOverloadError(e) && e.scope === "user");
    holder.release();
  });

  test("block lets the newcomer wait over the cap, counted as blocked, until a slot frees", async () => {
    const bulkhead = makeBulkhead({ maxConcurrentPerUser: 1, maxQueuePerUser: 1, overloadPolicy: "block" });
    const holder = take(bulkhead, "u");
    const queued = take(bulkhead, "u");
    const blocked = take(bulkhead, "u");
    await flush();
    assert.equal(blocked.state, "pending");
    assert.deepEqual(
      { ...userStats(bulkhead, "u"), lastActivity: 0 },
      { userId: "u", concurrent: 1, queued: 1, blocked: 1, lastActivity: 0 },
    );
    assert.equal(bulkhead.stats().globalBlocked, 1);
    holder.value!.release();
    await flush();
    queued.value!.release();
    await flush();
    assert.equal(blocked.state, "fulfilled");
    blocked.value!.release();
  });

  test("block waits within the queue timeout", async () => {
    const bulkhead = makeBulkhead({
      maxConcurrentPerUser: 1,
      maxQueuePerUser: 0,
      overloadPolicy: "block",
      queueTimeoutMs: 30,
    });
    const holder = await bulkhead.acquire("u");
    const error = await bulkhead.acquire("u").catch((e: unknown) => e);
    assert.ok(isQueueTimeoutError(error));
    holder.release();
  });
});

describe("queue timeout, abort and close", () => {
  test("a waiter past queueTimeoutMs gets QueueTimeoutError (408) and leaves the queue", async () => {
    const bulkhead = makeBulkhead({ maxConcurrentPerUser: 1, queueTimeoutMs: 40 });
    const holder = await bulkhead.acquire("u");
    const started = performance.now();
    const error = await bulkhead.acquire("u").catch((e: unknown) => e);
    const waited = performance.now() - started;
    assert.ok(isQueueTimeoutError(error));
    assert.equal(error.status, 408);
    assert.equal(error.timeoutMs, 40);
    assert.ok(error.waitedMs >= 40, `${error.waitedMs}`);
    assert.ok(waited >= 39 && waited < 1000, `${waited}`);
    assert.match(error.message, /request waited in queue longer than 40ms/);
    assert.equal(userStats(bulkhead, "u")!.queued, 0);
    assert.equal(userStats(bulkhead, "u")!.concurrent, 1, "the running request is untouched");
    holder.release();
  });

  test("waiters time out in arrival order, each after its own deadline", async () => {
    const bulkhead = makeBulkhead({ maxConcurrentPerUser: 1, queueTimeoutMs: 50 });
    const holder = await bulkhead.acquire("u");
    const first = take(bulkhead, "u");
    await sleep(25);
    const second = take(bulkhead, "u");
    await sleep(40); // first is past its deadline, second is not
    assert.equal(first.state, "rejected");
    assert.equal(second.state, "pending");
    await sleep(40);
    assert.equal(second.state, "rejected");
    assert.ok(isQueueTimeoutError(second.error));
    holder.release();
  });

  test("one timer serves every waiter's queue timeout", async (t) => {
    const bulkhead = makeBulkhead({
      maxConcurrentPerUser: 1,
      maxQueuePerUser: -1,
      maxQueueGlobal: -1,
      queueTimeoutMs: 10_000,
    });
    const holder = await bulkhead.acquire("u");
    const timeout = t.mock.method(globalThis, "setTimeout");
    const waiters = Array.from({ length: 1000 }, () => take(bulkhead, "u"));
    await flush();
    assert.ok(timeout.mock.callCount() <= 1, `${timeout.mock.callCount()} timers for 1000 waiters`);
    timeout.mock.restore();
    await bulkhead.close();
    assert.ok(waiters.every((w) => isDisposedError(w.error)));
    holder.release();
  });

  test("an aborted waiter leaves its queue at once, and the order of the rest is kept", async () => {
    const bulkhead = makeBulkhead({ maxConcurrentPerUser: 1 });
    const holder = take(bulkhead, "u");
    const controller = new AbortController();
    const first = take(bulkhead, "u");
    const aborted = take(bulkhead, "u", controller.signal);
    const last = take(bulkhead, "u");
    await flush();
    assert.equal(userStats(bulkhead, "u")!.queued, 3);
    controller.abort(new Error("client left"));
    assert.equal(userStats(bulkhead, "u")!.queued, 2, "gone synchronously");
    await flush();
    assert.ok(isAbortedError(aborted.error));
    assert.equal((aborted.error as Error).cause instanceof Error, true, "the signal's reason is the cause");
    assert.equal(getEventListeners(controller.signal, "abort").length, 0, "listener removed");
    holder.value!.release();
    await flush();
    assert.equal(first.state, "fulfilled");
    first.value!.release();
    await flush();
    assert.equal(last.state, "fulfilled");
    last.value!.release();
  });

  test("an already aborted signal rejects without queueing; an abort after the grant changes nothing", async () => {
    const bulkhead = makeBulkhead({ maxConcurrentPerUser: 1 });
    await assert.rejects(bulkhead.acquire("u", { signal: AbortSignal.abort() }), (e: unknown) => isAbortedError(e));
    await assert.rejects(
      bulkhead.limit("u", () => 1, { signal: AbortSignal.abort() }),
      (e: unknown) => isAbortedError(e),
    );
    const holder = await bulkhead.acquire("u");
    const controller = new AbortController();
    const waiter = take(bulkhead, "u", controller.signal);
    holder.release();
    await flush();
    assert.equal(waiter.state, "fulfilled");
    assert.equal(getEventListeners(controller.signal, "abort").length, 0, "listener removed on grant");
    controller.abort();
    assert.equal(userStats(bulkhead, "u")!.concurrent, 1);
    waiter.value!.release();
  });

  test("close rejects waiters with DisposedError; use after close throws DisposedError", async () => {
    const bulkhead = makeBulkhead({ maxConcurrentPerUser: 1, queueTimeoutMs: 60_000 });
    const gate = deferred();
    const running = bulkhead.limit("u", () => gate.promise.then(() => "done"));
    const waiter = take(bulkhead, "u");
    await flush();
    await bulkhead.close();
    assert.equal(bulkhead.closed, true);
    await flush();
    assert.ok(isDisposedError(waiter.error));
    assert.match((waiter.error as Error).message, /bulkhead has been closed/);
    gate.resolve();
    assert.equal(await running, "done", "running work finishes undisturbed");
    await assert.rejects(bulkhead.acquire("u"), (e: unknown) => isDisposedError(e));
    await assert.rejects(
      bulkhead.limit("u", () => 1),
      (e: unknown) => isDisposedError(e),
    );
    assert.throws(
      () => bulkhead.stats(),
      (e: unknown) => isDisposedError(e),
    );
    await bulkhead.close(); // idempotent
  });
});

/** Wraps the memory store so every answer is a promise, as a shared (Redis) store's would be. */
const asyncMemoryStore: BulkheadStoreFactory = (context) => {
  const inner = memoryStore(context);
  const later = <T>(value: T): Promise<T> => new Promise((resolve) => setImmediate(() => resolve(value)));
  return {
    tryAcquire: (userId) => later(null).then(() => inner.tryAcquire(userId)),
    enqueue: (userId, payload, now) => later(null).then(() => inner.enqueue(userId, payload, now)),
    release: (userId, now) => later(null).then(() => inner.release(userId, now)),
    remove: (ticket) => inner.remove(ticket),
    oldest: () => inner.oldest(),
    sweepIdle: (before) => inner.sweepIdle(before),
    snapshot: () => inner.snapshot(),
    close: () => later(null).then(() => inner.close()),
  };
};

describe("a store that answers asynchronously", () => {
  test("caps, queues, aborts and timeouts work the same", async () => {
    const bulkhead = makeBulkhead({
      store: asyncMemoryStore,
      maxConcurrentPerUser: 2,
      maxQueuePerUser: 2,
      queueTimeoutMs: 60,
    });
    let running = 0;
    let peak = 0;
    const work = async (): Promise<void> => {
      peak = Math.max(peak, ++running);
      await sleep(5);
      running--;
    };
    const results = await Promise.allSettled(Array.from({ length: 6 }, () => bulkhead.limit("u", work)));
    assert.equal(peak, 2);
    assert.equal(results.filter((r) => r.status === "fulfilled").length, 4);
    assert.ok(results.filter((r) => r.status === "rejected").every((r) => isOverloadError(r.reason)));

    const holders = await Promise.all([bulkhead.acquire("v"), bulkhead.acquire("v")]);
    const controller = new AbortController();
    const aborted = observe(bulkhead.acquire("v", { signal: controller.signal }));
    const timedOut = observe(bulkhead.acquire("v"));
    await sleep(5);
    controller.abort();
    await flush();
    assert.ok(isAbortedError(aborted.error));
    await sleep(80);
    assert.ok(isQueueTimeoutError(timedOut.error));
    for (const h of holders) h.release();
    await sleep(5);
    assert.equal(bulkhead.stats().activeRequests, 0);
  });
});
