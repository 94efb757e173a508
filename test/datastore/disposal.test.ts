// Closing: a closed store refuses use with DisposedError and holds no file open.
import { afterEach, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { createDatastore, type DatastoreBackend } from "../../src/datastore/index.js";
import { BACKENDS, cleanUp, openFilesUnder, openStore, tempDir } from "./helpers.js";
import { disposalSuite } from "./suites/disposal.js";

afterEach(cleanUp);

for (const backend of BACKENDS) disposalSuite(backend);

test("a closed SQLite store holds no file open; a second open sees the data", async () => {
  const dir = tempDir();
  const url = `sqlite:${join(dir, "d.db")}`;
  const store = await openStore(url);
  await store.namespace("n").set("k", "v");
  assert.ok(openFilesUnder(dir).length > 0, "the open store holds the file (the leak check can see it)");
  await store.close();
  assert.deepEqual(openFilesUnder(dir), []);
  const again = await openStore(url);
  assert.equal(await again.namespace("n").get("k"), "v");
  await again.close();
  assert.deepEqual(openFilesUnder(dir), []);
});

test("close waits for operations in flight, then closes the backend once", async () => {
  const events: string[] = [];
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const slow: DatastoreBackend = {
    kind: "test",
    location: "test:",
    get: async () => {
      await gate;
      events.push("get done");
      return "1";
    },
    has: async () => false,
    keys: async () => [],
    size: async () => 0,
    set: async () => undefined,
    delete: async () => false,
    increment: async () => 0,
    push: async () => 0,
    pop: async () => undefined,
    shift: async () => undefined,
    close: async () => void events.push("closed"),
  };
  const custom = await createDatastore(slow);
  const ns = custom.namespace("n");
  const pending = ns.get("k");
  const closing = custom.close();
  const second = custom.close();
  assert.throws(() => custom.namespace("n"), { name: "DisposedError" });
  await assert.rejects(ns.get("k"), { name: "DisposedError" });
  release();
  assert.equal(await pending, 1);
  await closing;
  await second;
  assert.deepEqual(events, ["get done", "closed"]);
});
