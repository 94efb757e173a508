// Concurrent writers never pass the cap together: in one process on both
// backends, and in several processes sharing one SQLite file.
import { afterEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join, resolve } from "node:path";
import { BACKENDS, cleanUp, openStore, tempDir } from "./helpers.js";
import { concurrencySuite, ENTRY, recount } from "./suites/concurrency.js";

afterEach(cleanUp);

const ROOT = resolve(import.meta.dirname, "../..");
const CHILD = join(import.meta.dirname, "fixtures/child.ts");

for (const backend of BACKENDS) concurrencySuite(backend);

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
