import assert from "node:assert/strict";
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { createDatastore, directoryModules } from "../../src/index.js";
import { tempDir } from "../helpers/cli.js";
import { TEST_ENGINES, testRuntime, value } from "../helpers/runtime.js";

const MODULES = {
  double: "export default (x) => x * 2",
  spin: "export default () => { for (;;) {} }",
  fails: "export default () => { throw new TypeError('nope') }",
  sleepThenWrite: `export default async (key) => {
    await new Promise((r) => setTimeout(r, 300));
    await datastore("tasks").set(key, "written");
    return "done";
  }`,
};

for (const engine of TEST_ENGINES) {
  describe(`spawn and parallel [${engine}]`, () => {
    test("spawn resolves to the task's value; parallel keeps the order and the concurrency", async () => {
      const runtime = await testRuntime(engine, { modules: MODULES, poolSize: 2 });
      try {
        assert.deepEqual(
          await value(
            runtime,
            `export default async () => [
              await spawn("double", 21),
              await parallel([["double", 1], { specifier: "double", input: 2 }, "double"], { concurrency: 2 }),
              await parallel([]),
            ]`,
          ),
          [42, [2, 4, null], []],
        );
      } finally {
        await runtime.close();
      }
    });

    test("a task's failure rejects with its typed error; the parent can catch it and goes on", async () => {
      const runtime = await testRuntime(engine, { modules: MODULES });
      try {
        const [failed, limited, unknown] = (await value(
          runtime,
          `export default async () => [
            await spawn("fails").catch((e) => [e.name, e.code, e.message]),
            await spawn("spin", null, { limits: { timeoutMs: 100, maxInstructions: -1 } }).catch((e) => [e.name, e.code]),
            await spawn("missing").catch((e) => e.message),
          ]`,
        )) as [string[], string[], string];
        assert.deepEqual(failed.slice(0, 2), ["ScriptError", "WARDEN_SCRIPT_ERROR"]);
        assert.match(failed[2]!, /TypeError: nope/);
        assert.deepEqual(limited, ["LimitExceededError", "WARDEN_LIMIT_TIMEOUT"]);
        assert.match(unknown, /no module named "missing" is registered \(registered: "double"/);
        const bad = await runtime.run(`export default () => spawn("double", 1, { limits: { timeoutMs: "soon" } })`);
        assert.match(!bad.ok ? bad.error.message : "", /timeoutMs/);
      } finally {
        await runtime.close();
      }
    });

    test("a task's wall clock never outlives its parent's; a parent that ends cancels its tasks", async () => {
      const store = await createDatastore("memory:");
      const runtime = await testRuntime(engine, { modules: MODULES, datastore: store, poolSize: 2 });
      try {
        const started = performance.now();
        const parent = await runtime.run(
          `export default () => spawn("spin", null, { limits: { timeoutMs: 60_000, maxInstructions: -1 } })`,
          { limits: { timeoutMs: 300 } },
        );
        assert.equal(!parent.ok && parent.error.name, "LimitExceededError");
        assert.ok(performance.now() - started < 5000, "the task ended with its parent's budget");
        const early = await runtime.run(`spawn("sleepThenWrite", "k1"); "parent done"`);
        assert.equal(early.ok && early.value, "parent done");
        await new Promise((resolve) => setTimeout(resolve, 600));
        assert.equal(await store.namespace("tasks").has("k1"), false, "the cancelled task never wrote");
        const waited = await value(runtime, `export default () => spawn("sleepThenWrite", "k2")`);
        assert.equal(waited, "done");
        assert.equal(await store.namespace("tasks").get("k2"), "written");
      } finally {
        await runtime.close();
        await store.close();
      }
    });

    test("flooding spawn hits maxConcurrentTasks; runs and warm calls count too; the host lives", async () => {
      const runtime = await testRuntime(engine, { modules: MODULES, poolSize: 2 });
      try {
        const flood = await runtime.run(
          `export default async () => { const all = []; for (let i = 0; i < 500; i++) all.push(spawn("double", i)); return (await Promise.all(all)).length }`,
          { limits: { maxConcurrentTasks: 20 } },
        );
        assert.equal(!flood.ok && flood.error.message, "maximum concurrent tasks exceeded (20)");
      } finally {
        await runtime.close();
      }
      // A fresh runtime: the flood's cancelled tasks may still be winding down in the first.
      const fresh = await testRuntime(engine, { modules: MODULES, poolSize: 2 });
      try {
        const runtime = fresh;
        const runs = await Promise.all(
          Array.from({ length: 4 }, () =>
            runtime.run("const end = Date.now() + 100; while (Date.now() < end) {} 1", {
              limits: { maxConcurrentTasks: 2, maxInstructions: -1 },
            }),
          ),
        );
        assert.equal(runs.filter((r) => !r.ok && r.error.code === "WARDEN_LIMIT_TASKS").length, 2);
        assert.equal(await value(runtime, `export default () => spawn("double", 4)`), 8);
      } finally {
        await runtime.close();
      }
    });
  });
}

test("directoryModules: relative paths inside the directory only", async () => {
  const dir = tempDir();
  mkdirSync(join(dir, "lib"));
  writeFileSync(join(dir, "lib", "task.js"), "export default 1");
  writeFileSync(join(dir, "..", "outside-task.js"), "export default 2");
  symlinkSync(join(dir, "..", "outside-task.js"), join(dir, "link.js"));
  const resolve = directoryModules(dir);
  assert.deepEqual(await resolve("./lib/task.js"), { source: "export default 1", filename: "lib/task.js" });
  assert.deepEqual(await resolve("lib/task.js"), { source: "export default 1", filename: "lib/task.js" });
  await assert.rejects(resolve("../outside-task.js"), /may not go up a directory/);
  await assert.rejects(resolve("/etc/passwd"), /must be a relative path/);
  await assert.rejects(resolve("./link.js"), /leads outside the script's directory/);
  await assert.rejects(resolve("./none.js"), /does not exist/);
});
