// What only the Redis backend has: the same results and byte counts as the
// memory backend on long random sequences, the cap held by two Datastore
// instances (two connections) writing at once, the documented key layout,
// namespaces and prefixes kept apart, failures at start and while running,
// and close() releasing the connection.
import { after, afterEach, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { isConfigError, isLimitExceeded, isStoreUnavailableError } from "../../src/errors/index.js";
import { createDatastore, type Datastore, type DatastoreNamespace } from "../../src/datastore/index.js";
import { freePort } from "../bulkhead/redis-server.js";
import { cleanUp, openStore } from "./helpers.js";
import {
  adminClient,
  assertNoSockets,
  freshRedisUrl,
  startRedis,
  tcpSockets,
  type TestRedis,
} from "./redis-helpers.js";
import { ENTRY, recount, VALUE } from "./suites/concurrency.js";

const ROOT = resolve(import.meta.dirname, "../..");

let redis: TestRedis;

before(async () => {
  redis = await startRedis(); // fails (not skips) when redis-server is missing
});
after(async () => {
  await redis.stop();
});
afterEach(async () => {
  await cleanUp();
  await assertNoSockets();
});

/** A small deterministic random source (mulberry32). */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** What an operation gave: its result, or its error's name, message and observed size. */
async function outcome(call: () => Promise<unknown>): Promise<unknown> {
  try {
    return { ok: await call() };
  } catch (error) {
    const e = error as Error & { observed?: number };
    return { error: e.name, message: e.message, observed: e.observed };
  }
}

describe("redis backend: the same as memory", () => {
  // Strings that a text splice could get wrong: brackets, braces, commas, quotes and escapes inside strings.
  const STRINGS = [
    "",
    "a,b",
    "]",
    "[",
    "}{",
    '"',
    "\\",
    '\\"',
    "\\\\]",
    "é€😀",
    "\u2028",
    "\u0000",
    "x".repeat(40),
    "y".repeat(150),
  ];
  const KEYS = ["a", "b", "q", "q2", "n", "é", "😀", "a:1", "a:2", "\uffff", "\u{10ffff}"];

  function value(next: () => number, depth = 0): unknown {
    const pick = Math.floor(next() * (depth > 2 ? 6 : 9));
    switch (pick) {
      case 0:
        return null;
      case 1:
        return next() < 0.5;
      case 2:
        return [0, -1, 7, 1.5, -2.25e-7, 1e21, 5e-324, 0.1, Number.MAX_SAFE_INTEGER][Math.floor(next() * 9)];
      case 3:
      case 4:
      case 5:
        return STRINGS[Math.floor(next() * STRINGS.length)];
      case 6:
      case 7:
        return Array.from({ length: Math.floor(next() * 4) }, () => value(next, depth + 1));
      default: {
        const object: Record<string, unknown> = {};
        for (let i = Math.floor(next() * 3); i > 0; i--) object[STRINGS[i] as string] = value(next, depth + 1);
        return object;
      }
    }
  }

  test("3000 random operations give the same results, errors and sizes as the memory backend", async () => {
    const cap = 300;
    const memory = await openStore("memory:", { maxDatastoreBytes: cap });
    const shared = await openStore(freshRedisUrl(redis), { maxDatastoreBytes: cap });
    const next = random(20261129);
    const spaces: [DatastoreNamespace, DatastoreNamespace][] = ["one", "two"].map((name) => [
      memory.namespace(name),
      shared.namespace(name),
    ]);
    const counts: Record<string, number> = {};
    for (let i = 0; i < 3000; i++) {
      const [m, r] = spaces[Math.floor(next() * spaces.length)] as [DatastoreNamespace, DatastoreNamespace];
      const roll = next();
      // Array operations mostly on the queue keys, so that arrays grow to the cap.
      const key = (
        roll < 0.5 && next() < 0.7 ? ["q", "q2"][Math.floor(next() * 2)] : KEYS[Math.floor(next() * KEYS.length)]
      ) as string;
      let op: (ns: DatastoreNamespace) => Promise<unknown>;
      let name: string;
      if (roll < 0.15) {
        const v = value(next);
        [name, op] = ["set", (ns) => ns.set(key, v)];
      } else if (roll < 0.3) {
        const v = value(next);
        [name, op] = ["push", (ns) => ns.push(key, v)];
      } else if (roll < 0.4) [name, op] = ["pop", (ns) => ns.pop(key)];
      else if (roll < 0.5) [name, op] = ["shift", (ns) => ns.shift(key)];
      else if (roll < 0.62) {
        const by = [1, -3, 0.1, 2.5, 1e-7, -0, 9007199254740000, 1e300][Math.floor(next() * 8)] as number;
        [name, op] = ["increment", (ns) => ns.increment(key, by)];
      } else if (roll < 0.7) [name, op] = ["delete", (ns) => ns.delete(key)];
      else if (roll < 0.78) [name, op] = ["get", (ns) => ns.get(key)];
      else if (roll < 0.84) [name, op] = ["has", (ns) => ns.has(key)];
      else if (roll < 0.94) {
        const options = { prefix: ["", "a", "q", "a:", "\uffff"][Math.floor(next() * 5)] as string };
        const limit = next() < 0.5 ? undefined : 1 + Math.floor(next() * 3);
        [name, op] = ["keys", (ns) => ns.keys(limit === undefined ? options : { ...options, limit })];
      } else [name, op] = ["size", (ns) => ns.size()];
      const expected = await outcome(() => op(m));
      const got = await outcome(() => op(r));
      assert.deepEqual(got, expected, `operation ${i}: ${name}(${JSON.stringify(key)}) on ${m.name}`);
      assert.equal(await r.size(), await m.size(), `size after operation ${i}`);
      counts[name] = (counts[name] ?? 0) + 1;
      const result = expected as { error?: string };
      if (result.error !== undefined) counts[`${name}:${result.error}`] = (counts[`${name}:${result.error}`] ?? 0) + 1;
    }
    for (const [m, r] of spaces) {
      assert.deepEqual(await r.keys(), await m.keys());
      for (const key of await m.keys()) assert.deepEqual(await r.get(key), await m.get(key));
      assert.equal(await r.size(), await recount(r));
    }
    await memory.close();
    await shared.close();
    // The sequence reached the interesting cases: refusals by the cap and by type, on each kind of write.
    for (const seen of ["set:LimitExceededError", "push:LimitExceededError", "push:TypeError", "increment:TypeError"]) {
      assert.ok((counts[seen] ?? 0) > 0, `the sequence has no ${seen}: ${JSON.stringify(counts)}`);
    }
  });

  test("increments print numbers as JavaScript does (in Lua, or in JavaScript for powers of two)", async () => {
    const store = await openStore(freshRedisUrl(redis));
    const ns = store.namespace("n");
    const cases: [number | undefined, number][] = [
      [undefined, 1],
      [0.1, 0.2],
      [9007199254740990, 1],
      [9007199254740991, 1],
      [-9007199254740991, -1],
      [1e20, 1e20],
      [1, 1e21],
      [5e-324, 0],
      [-1, 1],
      [2 ** 60, 1],
    ];
    for (const [start, by] of cases) {
      if (start === undefined) await ns.delete("k");
      else await ns.set("k", start);
      const expected = (start ?? 0) + by;
      assert.equal(await ns.increment("k", by), expected);
      assert.equal(await ns.get("k"), expected);
      assert.equal(await ns.size(), 1 + JSON.stringify(expected).length, `${start} + ${by}`);
    }
    await ns.set("k", Number.MAX_VALUE);
    await assert.rejects(ns.increment("k", Number.MAX_VALUE), { name: "RangeError", message: /would hold Infinity/ });
    assert.equal(await ns.get("k"), Number.MAX_VALUE);
    await store.close();
  });

  test("5000 random sums of doubles are stored as the text JSON.stringify gives", async () => {
    const url = freshRedisUrl(redis);
    const prefix = new URL(url).searchParams.get("prefix") as string;
    const store = await openStore(url, { maxDatastoreBytes: -1 });
    const ns = store.namespace("sums");
    const admin = adminClient(redis);
    const next = random(42);
    const bits = new DataView(new ArrayBuffer(8));
    const double = (): number => {
      switch (Math.floor(next() * 4)) {
        case 0:
          for (;;) {
            bits.setUint32(0, Math.floor(next() * 2 ** 32));
            bits.setUint32(4, Math.floor(next() * 2 ** 32));
            const d = bits.getFloat64(0);
            if (Number.isFinite(d)) return d;
          }
        case 1:
          return (Math.round(next() * 1e6) / 10 ** Math.floor(next() * 10)) * (next() < 0.5 ? -1 : 1);
        case 2:
          return (next() - 0.5) * 10 ** Math.floor(next() * 50 - 25);
        default:
          return Math.floor(next() * 1000) * 0.1;
      }
    };
    try {
      const wrong: string[] = [];
      await Promise.all(
        Array.from({ length: 5000 }, async (_, i) => {
          const [a, b] = [double(), double()];
          await ns.set(`k${i}`, a);
          const result = await ns.increment(`k${i}`, b);
          const text = await admin.hget(`${prefix}:{sums}:v`, `k${i}`);
          if (result !== a + b || text !== JSON.stringify(a + b)) wrong.push(`${a} + ${b}: ${text}`);
        }),
      );
      assert.deepEqual(wrong, []);
    } finally {
      await admin.quit();
    }
    await store.close();
  });
});

describe("redis backend: two Datastore instances on one Redis", () => {
  test("many writers on two connections never pass the cap together; every write is stored or refused whole", async () => {
    const url = freshRedisUrl(redis);
    const admin = adminClient(redis);
    try {
      const before = String(await admin.client("LIST"))
        .trim()
        .split("\n").length;
      const cap = 150 * ENTRY + ENTRY - 1; // room for 150 entries, not 151
      const one = await openStore(url, { maxDatastoreBytes: cap });
      const two = await openStore(url, { maxDatastoreBytes: cap });
      const clients = String(await admin.client("LIST"))
        .trim()
        .split("\n").length;
      assert.equal(clients, before + 2, "each Datastore has its own connection");
      const [a, b] = [one.namespace("race"), two.namespace("race")];
      // A third store reads the usage while the writers run: it is never above the cap.
      const watcher = await openStore(url, { maxDatastoreBytes: cap });
      let racing = true;
      const sizes: number[] = [];
      const watching = (async () => {
        while (racing) sizes.push(await watcher.namespace("race").size());
      })();
      const writes: Promise<PromiseSettledResult<void>>[] = [];
      const settle = (write: Promise<void>): void => {
        writes.push(Promise.allSettled([write]).then(([r]) => r as PromiseSettledResult<void>));
      };
      for (let wave = 0; wave < 4; wave++) {
        for (let i = 0; i < 100; i++) {
          settle(a.set(`w${String(wave * 200 + i).padStart(4, "0")}`, VALUE));
          settle(b.set(`w${String(wave * 200 + 100 + i).padStart(4, "0")}`, VALUE));
        }
        await new Promise((resolve) => setImmediate(resolve)); // separate batches on each connection
      }
      const results = await Promise.all(writes);
      racing = false;
      await watching;
      const stored = results.filter((r) => r.status === "fulfilled").length;
      const refused = results.filter((r) => r.status === "rejected" && isLimitExceeded(r.reason)).length;
      assert.equal(stored + refused, 800, "every write was stored or refused by the cap, nothing else");
      assert.equal(stored, 150);
      assert.ok(sizes.length > 0 && sizes.every((size) => size <= cap), `sizes seen: ${Math.max(...sizes)}`);
      for (const ns of [a, b]) {
        assert.equal(await ns.size(), 150 * ENTRY);
        assert.equal((await ns.keys()).length, 150);
      }
      assert.equal(await recount(a), 150 * ENTRY);
      // Every refused key is absent; every stored one is present.
      for (const [i, r] of results.entries()) {
        const key = `w${String(Math.floor(i / 200) * 200 + (i % 2) * 100 + Math.floor((i % 200) / 2)).padStart(4, "0")}`;
        assert.equal(await a.has(key), r.status === "fulfilled", key);
      }
      await Promise.all([one.close(), two.close(), watcher.close()]);
    } finally {
      await admin.quit();
    }
  });

  test("writes of mixed sizes from both: the usage never passes the cap and always equals the data", async () => {
    const url = freshRedisUrl(redis);
    const cap = 5000;
    const stores = [await openStore(url, { maxDatastoreBytes: cap }), await openStore(url, { maxDatastoreBytes: cap })];
    const next = random(7);
    const writes: Promise<unknown>[] = [];
    for (let i = 0; i < 600; i++) {
      const ns = (stores[i % 2] as Datastore).namespace("mixed");
      const key = `k${Math.floor(next() * 60)}`;
      const roll = next();
      if (roll < 0.5) writes.push(ns.set(key, "x".repeat(Math.floor(next() * 300))));
      else if (roll < 0.75) writes.push(ns.push(`l${Math.floor(next() * 5)}`, "y".repeat(Math.floor(next() * 50))));
      else if (roll < 0.85) writes.push(ns.shift(`l${Math.floor(next() * 5)}`));
      else writes.push(ns.delete(key));
    }
    const results = await Promise.allSettled(writes);
    assert.ok(results.every((r) => r.status === "fulfilled" || isLimitExceeded(r.reason)));
    assert.ok(
      results.some((r) => r.status === "rejected"),
      "the cap refused some writes",
    );
    const ns = (stores[0] as Datastore).namespace("mixed");
    const size = await ns.size();
    assert.ok(size <= cap, `usage ${size} is above the cap ${cap}`);
    assert.equal(size, await recount(ns));
    await Promise.all(stores.map((store) => store.close()));
  });

  test("increments and pushes from both lose no update (sums in Lua, powers of two by compare-and-set)", async () => {
    const url = freshRedisUrl(redis);
    const stores = [await openStore(url), await openStore(url)];
    const ops: Promise<unknown>[] = [];
    for (let i = 0; i < 400; i++) {
      const ns = (stores[i % 2] as Datastore).namespace("counters");
      ops.push(ns.increment("int"), ns.increment("half", 0.5), ns.increment("pow2", 2 ** 60), ns.push("list", i));
    }
    await Promise.all(ops);
    const ns = (stores[1] as Datastore).namespace("counters");
    assert.equal(await ns.get("int"), 400);
    assert.equal(await ns.get("half"), 200);
    assert.equal(await ns.get("pow2"), 400 * 2 ** 60, "powers of two take the compare-and-set path");
    assert.deepEqual(
      ((await ns.get("list")) as number[]).sort((x, y) => x - y),
      [...Array(400).keys()],
    );
    assert.equal(await ns.size(), await recount(ns));
    await Promise.all(stores.map((store) => store.close()));
  });
});

describe("redis backend: layout and isolation", () => {
  test("each namespace is three keys under <prefix>:{<namespace>}: values, index, usage; nothing is left when it empties", async () => {
    const url = freshRedisUrl(redis);
    const prefix = new URL(url).searchParams.get("prefix") as string;
    const store = await openStore(url);
    const ns = store.namespace("orders");
    await ns.set("order:1", { items: ["tea"] });
    await ns.push("queue", "order:1");
    const admin = adminClient(redis);
    try {
      assert.deepEqual((await admin.keys(`${prefix}:*`)).sort(), [
        `${prefix}:{orders}:k`,
        `${prefix}:{orders}:n`,
        `${prefix}:{orders}:v`,
      ]);
      assert.deepEqual(await admin.hgetall(`${prefix}:{orders}:v`), {
        "order:1": '{"items":["tea"]}',
        queue: '["order:1"]',
      });
      assert.deepEqual(await admin.zrange(`${prefix}:{orders}:k`, 0, -1, "WITHSCORES"), ["order:1", "0", "queue", "0"]);
      assert.equal(Number(await admin.get(`${prefix}:{orders}:n`)), await ns.size());
      assert.equal(await ns.shift("queue"), "order:1");
      assert.equal(await admin.hget(`${prefix}:{orders}:v`, "queue"), "[]", "the key stays as []");
      await ns.delete("queue");
      await ns.delete("order:1");
      assert.deepEqual(await admin.keys(`${prefix}:*`), []);
    } finally {
      await admin.quit();
    }
    await store.close();
  });

  test("namespaces, and stores with another prefix or database, do not see each other's keys, bytes or caps", async () => {
    const url = freshRedisUrl(redis);
    const store = await openStore(url, { maxDatastoreBytes: 40 });
    const names = ["a", "a:b", "b", "a.b", "{a}".replace(/[{}]/g, "_")];
    for (const name of names) await store.namespace(name).set("k", "x".repeat(30)); // 33 bytes each, under 40
    for (const name of names) {
      const ns = store.namespace(name);
      assert.deepEqual(await ns.keys(), ["k"]);
      assert.equal(await ns.size(), 33);
      await assert.rejects(ns.set("k2", "yyyy"), (error: unknown) => isLimitExceeded(error)); // 33 + 8 > 40
    }
    const other = await openStore(freshRedisUrl(redis), { maxDatastoreBytes: 40 });
    assert.deepEqual(await other.namespace("a").keys(), []);
    assert.equal(await other.namespace("a").size(), 0);
    await other.namespace("a").set("k", "z".repeat(30));
    const db1 = await openStore(`${redis.url}/1?prefix=${new URL(url).searchParams.get("prefix")}`);
    assert.deepEqual(await db1.namespace("a").keys(), [], "database 1 is another store");
    assert.equal(await store.namespace("a").get("k"), "x".repeat(30));
    assert.equal(db1.location, `${redis.url}/1?prefix=${new URL(url).searchParams.get("prefix")}`);
    assert.equal(db1.kind, "redis");
    await Promise.all([store.close(), other.close(), db1.close()]);
  });
});

describe("redis backend: failures and closing", () => {
  test("an unreachable Redis at start: createDatastore rejects with a ConfigError naming the URL, no socket left", async () => {
    const port = await freePort();
    const url = `redis://app:secret@127.0.0.1:${port}/0`;
    await assert.rejects(createDatastore(url), (error: unknown) => {
      assert.ok(isConfigError(error));
      assert.match(error.message, new RegExp(`cannot use Redis at redis://app:\\*\\*\\*@127\\.0\\.0\\.1:${port}/0`));
      assert.match(error.message, /ECONNREFUSED/);
      assert.doesNotMatch(error.message, /secret/);
      return true;
    });
    assert.equal(tcpSockets(), 0);
  });

  test("warden run --datastore redis://<unreachable> exits 2 and names the flag and the URL, password hidden", async () => {
    const port = await freePort();
    const program = `const { main } = await import("./src/cli/main.ts"); process.exitCode = await main(["run", "-", "--datastore", "redis://:secret@127.0.0.1:${port}"]);`;
    const result = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", program], {
      cwd: ROOT,
      input: "export default () => 1",
      encoding: "utf8",
      timeout: 60_000,
    });
    assert.equal(result.status, 2, result.stderr);
    assert.match(result.stderr, /--datastore/);
    assert.match(result.stderr, new RegExp(`redis://:\\*\\*\\*@127\\.0\\.0\\.1:${port}`));
    assert.match(result.stderr, /ECONNREFUSED/);
    assert.doesNotMatch(result.stderr, /secret/);
  });

  test("close() waits for operations in flight, then closes the connection (Redis sees it go)", async () => {
    const admin = adminClient(redis);
    try {
      const count = async () =>
        String(await admin.client("LIST"))
          .trim()
          .split("\n").length;
      const before = await count();
      const store = await createDatastore(freshRedisUrl(redis));
      assert.equal(await count(), before + 1);
      const ns = store.namespace("n");
      const pending = [ns.set("k", "v"), ns.increment("c"), ns.push("l", 1)];
      await store.close();
      await Promise.all(pending);
      assert.equal(store.closed, true);
      await assert.rejects(ns.get("k"), { name: "DisposedError" });
      assert.equal(await count(), before);
      await store.close(); // idempotent
    } finally {
      await admin.quit();
    }
    await assertNoSockets();
  });

  test("Redis going away: operations reject with StoreUnavailableError at once, and close() still ends cleanly", async () => {
    const own = await startRedis();
    try {
      const store = await createDatastore(freshRedisUrl(own));
      const ns = store.namespace("n");
      await ns.set("k", 1);
      await own.kill();
      await new Promise((resolve) => setTimeout(resolve, 50));
      for (const call of [ns.get("k"), ns.set("k", 2), ns.increment("k"), ns.keys(), ns.size()]) {
        await assert.rejects(call, (error: unknown) => {
          assert.ok(isStoreUnavailableError(error));
          assert.match(error.message, new RegExp(`Redis at redis://127\\.0\\.0\\.1:${own.port}`));
          return true;
        });
      }
      await store.close();
      assert.equal(tcpSockets(), 0);
    } finally {
      await own.stop();
    }
  });
});
