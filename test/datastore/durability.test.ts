// A SQLite write whose promise resolved survives the process being killed with SIGKILL.
import { afterEach, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join, resolve } from "node:path";
import { cleanUp, openStore, tempDir } from "./helpers.js";

afterEach(cleanUp);

const ROOT = resolve(import.meta.dirname, "../..");
const CHILD = join(import.meta.dirname, "fixtures/child.ts");

/** Runs the durable writer until it has reported `atLeast` resolved writes, then kills it; the reported indices. */
function writeThenKill(db: string, synchronous: string, atLeast: number): Promise<number[]> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ["--import", "tsx", CHILD, "durable", db, synchronous], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    let killed = false;
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      if (!killed && out.split("\n").length > atLeast) {
        killed = true;
        child.kill("SIGKILL"); // mid-stream: the child is writing its next entry
      }
    });
    child.stderr.on("data", (chunk: Buffer) => (err += chunk.toString()));
    child.on("error", fail);
    child.on("close", (code, signal) => {
      if (signal !== "SIGKILL") return fail(new Error(`the writer ended by itself (${code}): ${err}`));
      done(
        out
          .split("\n")
          .filter((line) => /^\d+$/.test(line)) // a half-written last line is not a report
          .map(Number),
      );
    });
  });
}

for (const synchronous of ["full", "normal"] as const) {
  test(`synchronous=${synchronous}: every write reported resolved before SIGKILL is there after reopening`, async () => {
    const db = join(tempDir(), "durable.db");
    const resolved = await writeThenKill(db, synchronous, 25);
    assert.ok(resolved.length >= 25);
    assert.deepEqual(
      resolved,
      resolved.map((_, i) => i),
    );
    const store = await openStore(`sqlite:${db}`);
    const ns = store.namespace("durable");
    for (const i of resolved) assert.deepEqual(await ns.get(`k${i}`), { i, pad: "p".repeat(100) });
    // The usage row was committed with the data: it matches what is there (the
    // write in flight at the kill is either wholly there or wholly absent).
    let total = 0;
    for (const key of await ns.keys())
      total += Buffer.byteLength(key) + Buffer.byteLength(JSON.stringify(await ns.get(key)));
    assert.equal(await ns.size(), total);
    assert.ok((await ns.keys()).length <= resolved.length + 1);
    await store.close();
  });
}
