// Concurrent writers in one process never pass the cap together, as one suite a backend runs.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { isLimitExceeded } from "../../../src/errors/index.js";
import type { DatastoreNamespace } from "../../../src/datastore/index.js";
import { openStore, type BackendCase } from "../helpers.js";

/** Each entry: key `w0000`..`w9999` (5 bytes) + JSON string of 20 chars (22 bytes) = 27 bytes. */
export const ENTRY = 27;
/** The value of each entry. */
export const VALUE = "v".repeat(20);

/** Sum of the documented entry sizes over every entry, read back through the API. */
export async function recount(ns: DatastoreNamespace): Promise<number> {
  let total = 0;
  for (const key of await ns.keys())
    total += Buffer.byteLength(key) + Buffer.byteLength(JSON.stringify(await ns.get(key)));
  return total;
}

/** Concurrent writers on one store, against one backend. */
export function concurrencySuite(backend: BackendCase): void {
  describe(`${backend.name} backend: concurrent writers`, () => {
    test("400 concurrent sets into room for 150: exactly 150 stored, the rest refused whole", async () => {
      const cap = 150 * ENTRY + ENTRY - 1; // room for 150, not 151
      const store = await openStore(backend.url(), { maxDatastoreBytes: cap, synchronous: "normal" });
      const ns = store.namespace("race");
      const results = await Promise.allSettled(
        Array.from({ length: 400 }, (_, i) => ns.set(`w${String(i).padStart(4, "0")}`, VALUE)),
      );
      const ok = results.filter((r) => r.status === "fulfilled").length;
      assert.equal(ok, 150);
      assert.ok(results.every((r) => r.status === "fulfilled" || isLimitExceeded(r.reason)));
      assert.equal(await ns.size(), 150 * ENTRY);
      assert.equal((await ns.keys()).length, 150);
      assert.equal(await recount(ns), 150 * ENTRY);
      await store.close();
    });

    test("concurrent increments, pushes, pops and deletes lose no update and keep the count exact", async () => {
      const url = backend.url();
      // Several handles on one store, as several runs of one runtime would hold.
      const store = await openStore(url, { maxDatastoreBytes: 5000, synchronous: "normal" });
      const handles = [1, 2, 3, 4].map(() => store.namespace("mixed"));
      const ops: Promise<unknown>[] = [];
      for (let i = 0; i < 200; i++) {
        const ns = handles[i % handles.length] as DatastoreNamespace;
        ops.push(ns.increment("counter"));
        ops.push(ns.push("list", i));
        if (i % 4 === 3) ops.push(ns.pop("list"));
        ops.push(ns.set(`tmp${i}`, "x".repeat(i % 7)).then(() => ns.delete(`tmp${i}`)));
      }
      await Promise.all(ops);
      const ns = handles[0] as DatastoreNamespace;
      assert.equal(await ns.get("counter"), 200);
      assert.equal(((await ns.get("list")) as number[]).length, 150);
      assert.deepEqual(await ns.keys(), ["counter", "list"]);
      assert.equal(await ns.size(), await recount(ns));
      await store.close();
    });
  });
}
