// Closing, as one suite a backend runs: a closed store refuses use with DisposedError.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { isDisposedError } from "../../../src/errors/index.js";
import { createDatastore } from "../../../src/datastore/index.js";
import { openStore, type BackendCase } from "../helpers.js";

/** Closing a store, against one backend. */
export function disposalSuite(backend: BackendCase): void {
  describe(`${backend.name} backend: disposal`, () => {
    test("every operation of a closed store rejects with DisposedError; close is idempotent", async () => {
      const store = await openStore(backend.url());
      const ns = store.namespace("n");
      await ns.set("k", 1);
      assert.equal(store.closed, false);
      await store.close();
      await store.close();
      assert.equal(store.closed, true);
      const calls = [
        ns.get("k"),
        ns.set("k", 2),
        ns.delete("k"),
        ns.has("k"),
        ns.keys(),
        ns.increment("k"),
        ns.push("l", 1),
        ns.pop("l"),
        ns.shift("l"),
        ns.size(),
      ];
      for (const call of calls) {
        await assert.rejects(call, (error: unknown) => {
          assert.ok(isDisposedError(error));
          assert.equal(error.code, "WARDEN_DISPOSED");
          assert.equal(error.message, "this datastore has been closed and cannot be used");
          return true;
        });
      }
      assert.throws(() => store.namespace("other"), { name: "DisposedError" });
    });

    test("await using closes the store at the end of the block", async () => {
      let outer;
      {
        await using store = await createDatastore(backend.url());
        outer = store;
        await store.namespace("n").set("k", true);
      }
      assert.equal(outer.closed, true);
    });
  });
}
