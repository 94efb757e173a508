// Concurrent writers never pass the cap together: in one process on both
// backends, and in several processes sharing one SQLite file.
import { afterEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join, resolve } from "node:path";
import { isLimitExceeded } from "../../src/errors/index.js";
import type { DatastoreNamespace } from "../../src/datastore/index.js";
import { BACKENDS, cleanUp, openStore, tempDir } from "./helpers.js";

afterEach(cleanUp);

const ROOT = resolve(import.meta.dirname, "../..");
const CHILD = join(import.meta.dirname, "fixtures/child.ts");

/** Each entry: key `w0000`..`w9999` (5 bytes) + JSON string of 20 chars (22 bytes) = 27 bytes. */
const ENTRY = 27;
const VALUE = "v".repeat(20);

async function recount(ns: DatastoreNamespace): Promise<number> {
  let total = 0;
  for (const key of await ns.keys())
    total += Buffer.byteLength(key) + Buffer.byteLength(JSON.stringify(await ns.get(key)));
  return total;
}

for (const backend of BACKENDS) {
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

describe("sqlite backend: several processes on one file", () => {
  interface ChildReport {
    ok: number;
    refused: number;
    incremented: number;
  }

  function runWriter(db: string, prefix: string, count: number, cap: number, startAt: number): Promise<ChildReport> {
    return new Promise((done, fail) => {
      const child = spawn(
        process.execPath,
        ["--import", "tsx", CHILD, "writer", db, "full", String(count), prefix, "20", String(cap), String(startAt)],
        { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] },
      );
      let out = "";
      let err = "";
      child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
      child.stderr.on("data", (chunk: Buffer) => (err += chunk.toString()));
      child.on("error", fail);
      child.on("close", (code) => {
        if (code === 0) done(JSON.parse(out) as ChildReport);
        else fail(new Error(`writer ${prefix} exited with ${code}: ${err}`));
      });
    });
  }

  test("three processes writing at once never pass the cap together and lose no increment", async () => {
    const db = join(tempDir(), "shared.db");
    const store = await openStore(`sqlite:${db}`); // creates the file and schema before the race
    const count = 120;
    const room = 200; // of 360 attempts
    const cap = room * ENTRY + ENTRY - 1;
    const startAt = Date.now() + 2500; // after every child has loaded
    const reports = await Promise.all(["a", "b", "c"].map((prefix) => runWriter(db, prefix, count, cap, startAt)));
    const ok = reports.reduce((sum, r) => sum + r.ok, 0);
    const refused = reports.reduce((sum, r) => sum + r.refused, 0);
    assert.equal(ok + refused, 3 * count);
    assert.equal(ok, room, `stored ${ok} entries of ${ENTRY} bytes under a cap of ${cap}`);
    const ns = store.namespace("shared");
    assert.equal(await ns.size(), room * ENTRY);
    assert.equal((await ns.keys()).length, room);
    assert.equal(await recount(ns), room * ENTRY);
    assert.equal(await store.namespace("counter").get("n"), 3 * count);
    await store.close();
  });
});
