// Byte accounting and the cap, as one suite a backend runs (see accounting.test.ts and redis.test.ts).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { isLimitExceeded, LimitExceededError } from "../../../src/errors/index.js";
import { datastoreEntryBytes, type DatastoreNamespace } from "../../../src/datastore/index.js";
import { openStore, type BackendCase } from "../helpers.js";

/** The documented rule: UTF-8 bytes of the key plus UTF-8 bytes of JSON.stringify(value). */
function bytes(key: string, value: unknown): number {
  return Buffer.byteLength(key) + Buffer.byteLength(JSON.stringify(value));
}

async function assertRefused(promise: Promise<unknown>, limit: number, observed: number): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(isLimitExceeded(error));
    assert.ok(error instanceof LimitExceededError);
    assert.equal(error.kind, "datastore_size");
    assert.equal(error.code, "WARDEN_LIMIT_DATASTORE_SIZE");
    assert.equal(error.limit, limit);
    assert.equal(error.observed, observed);
    assert.equal(error.unit, "bytes");
    return true;
  });
}

/** Sum of the documented entry sizes over every entry, read back through the API. */
async function recount(ns: DatastoreNamespace): Promise<number> {
  let total = 0;
  for (const key of await ns.keys()) total += bytes(key, await ns.get(key));
  return total;
}

/** Byte accounting and the cap, against one backend. */
export function accountingSuite(backend: BackendCase): void {
  describe(`${backend.name} backend: accounting and the cap`, () => {
    test("bytes are the UTF-8 length of the key plus that of the value's JSON text", async () => {
      const store = await openStore(backend.url());
      const ns = store.namespace("bytes");
      assert.equal(await ns.size(), 0);
      await ns.set("ab", "cd"); // 2 + 4 ("cd" with quotes)
      assert.equal(await ns.size(), 6);
      await ns.set("é", "€"); // 2 + 5
      assert.equal(await ns.size(), 13);
      await ns.set("obj", { a: [1, 2], b: "😀" }); // 3 + 22
      assert.equal(await ns.size(), 13 + 3 + Buffer.byteLength('{"a":[1,2],"b":"😀"}'));
      assert.equal(datastoreEntryBytes("obj", '{"a":[1,2],"b":"😀"}'), bytes("obj", { a: [1, 2], b: "😀" }));
      await ns.set("ab", "a longer value"); // replacing counts the new entry only
      assert.equal(await ns.size(), await recount(ns));
      await ns.increment("n", 9);
      await ns.increment("n"); // "9" -> "10"
      await ns.push("list", "x");
      await ns.push("list", { y: 1 });
      assert.equal(await ns.size(), await recount(ns));
      for (const key of await ns.keys()) await ns.delete(key);
      assert.equal(await ns.size(), 0);
      await store.close();
    });

    test("a write that would pass the cap is refused whole and nothing of it is stored", async () => {
      const store = await openStore(backend.url(), { maxDatastoreBytes: 100 });
      const ns = store.namespace("capped");
      await ns.set("fill", "x".repeat(86)); // 4 + 88 = 92
      assert.equal(await ns.size(), 92);
      await assertRefused(ns.set("new", "abcdef"), 100, 92 + bytes("new", "abcdef"));
      assert.equal(await ns.has("new"), false);
      await assertRefused(ns.set("fill", "x".repeat(95)), 100, bytes("fill", "x".repeat(95)));
      assert.equal(await ns.get("fill"), "x".repeat(86), "the old value is kept");
      await ns.set("n", 9); // 1 + 1 -> 94
      await ns.set("l", []); // 1 + 2 -> 97
      assert.equal(await ns.size(), 97);
      await assertRefused(ns.push("l", "abc"), 100, 97 - bytes("l", []) + bytes("l", ["abc"]));
      assert.deepEqual(await ns.get("l"), []);
      await ns.set("fill", "x".repeat(83)); // shrink by 3: 94
      await ns.increment("n"); // "9" -> "10": 95
      await ns.set("m", 9999); // 1 + 4: 100, exactly the cap: allowed
      assert.equal(await ns.size(), 100);
      await assertRefused(ns.increment("m"), 100, 101);
      assert.equal(await ns.get("m"), 9999);
      assert.equal(await ns.size(), 100);
      assert.equal(await ns.size(), await recount(ns));
      await store.close();
    });

    test("deletes, pops and shifts give their bytes back", async () => {
      const store = await openStore(backend.url(), { maxDatastoreBytes: 60 });
      const ns = store.namespace("giveback");
      await ns.push("q", "aaaa"); // q + ["aaaa"] = 1 + 8
      await ns.push("q", "bbbb"); // ["aaaa","bbbb"] = 15 -> 16
      await ns.push("q", "cccc"); // 22 -> 23
      await ns.set("k", "x".repeat(30)); // 1 + 32 = 33 -> 56
      assert.equal(await ns.size(), 56);
      await assertRefused(ns.push("q", "dddd"), 60, 56 - 23 + bytes("q", ["aaaa", "bbbb", "cccc", "dddd"]));
      assert.equal(await ns.pop("q"), "cccc");
      assert.equal(await ns.size(), 56 - 7);
      assert.equal(await ns.shift("q"), "aaaa");
      assert.equal(await ns.size(), 56 - 14);
      assert.equal(await ns.delete("k"), true);
      assert.equal(await ns.size(), 9);
      await ns.set("k", "x".repeat(40)); // fits again: 9 + 43 = 52
      assert.equal(await ns.size(), 52);
      assert.equal(await ns.size(), await recount(ns));
      await store.close();
    });

    test("the cap is per namespace; the message names the cap as in the limits table", async () => {
      const store = await openStore(backend.url(), { maxDatastoreBytes: "10MB" });
      const a = store.namespace("a");
      const b = store.namespace("b");
      const nine = "x".repeat(9_000_000);
      await a.set("v", nine);
      await b.set("v", nine); // another namespace has its own 10MB
      await assert.rejects(a.set("w", "x".repeat(2_000_000)), {
        name: "LimitExceededError",
        message: "datastore size limit exceeded (10MB)",
      });
      assert.equal(await a.size(), bytes("v", nine));
      await store.close();
    });

    test("the default cap is the normal profile's 1GB; 0 or -1 disables it; a handle may carry its own", async () => {
      const store = await openStore(backend.url());
      assert.equal(store.maxDatastoreBytes, 1e9);
      assert.equal(
        new LimitExceededError({ kind: "datastore_size", limit: store.maxDatastoreBytes }).message,
        "datastore size limit exceeded (1GB)",
      );
      const small = store.namespace("n", { maxDatastoreBytes: 10 });
      await assertRefused(small.set("k", "0123456789"), 10, 13);
      const unlimited = store.namespace("n", { maxDatastoreBytes: -1 });
      await unlimited.set("k", "0123456789");
      assert.equal(await small.size(), 13, "the same namespace through either handle");
      await small.delete("k");
      await store.close();
      const off = await openStore(backend.url(), { maxDatastoreBytes: 0 });
      assert.equal(off.maxDatastoreBytes, 0);
      await off.namespace("n").set("k", "x".repeat(1000));
      await off.close();
    });

    test("a namespace already above a lowered cap can still shrink, but not grow", async () => {
      const url = backend.url();
      const store = await openStore(url);
      const loose = store.namespace("n");
      await loose.set("a", "x".repeat(50)); // 53
      await loose.set("b", "y".repeat(50)); // 106
      const tight = store.namespace("n", { maxDatastoreBytes: 80 });
      await tight.set("a", "x".repeat(40)); // 96: smaller, allowed though above 80
      await assertRefused(tight.set("a", "x".repeat(41)), 80, 97);
      await tight.push("c", 1).then(
        () => assert.fail("grew past the cap"),
        (error: unknown) => assert.ok(isLimitExceeded(error)),
      );
      assert.equal(await tight.size(), 96);
      await store.close();
    });
  });
}
