import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createDatastore } from "../../src/index.js";
import { TEST_ENGINES, testRuntime, value } from "../helpers/runtime.js";

for (const engine of TEST_ENGINES) {
  describe(`host calls: timers and datastore() [${engine}]`, () => {
    test("setTimeout runs callbacks in deadline order with their arguments; clearTimeout cancels", async () => {
      const runtime = await testRuntime(engine);
      try {
        const order = await value(
          runtime,
          `export default () => new Promise((resolve) => {
            const seen = [];
            // 50 ms apart: a loaded machine may take a while between two of these statements.
            setTimeout((x) => seen.push(x), 150, "c");
            setTimeout((x) => seen.push(x), 50, "a");
            const cancelled = setTimeout(() => seen.push("never"), 100);
            setTimeout((x, y) => seen.push(x + y), 100, "b", "!");
            clearTimeout(cancelled);
            setTimeout(() => resolve(seen), 200);
          })`,
        );
        assert.deepEqual(order, ["a", "b!", "c"]);
      } finally {
        await runtime.close();
      }
    });

    test("setInterval repeats until cleared; a waiting guest uses no CPU budget", async () => {
      const runtime = await testRuntime(engine);
      try {
        const result = await runtime.run(
          `export default () => new Promise((resolve) => {
            let ticks = 0;
            const id = setInterval(() => { if (++ticks === 4) { clearInterval(id); resolve(ticks); } }, 5);
          })`,
          { limits: { cpuTimeMs: 50 } },
        );
        assert.equal(result.ok && result.value, 4);
        const slept = await runtime.run(`export default () => new Promise((r) => setTimeout(() => r("done"), 200))`, {
          limits: { cpuTimeMs: 50 },
        });
        assert.equal(slept.ok && slept.value, "done");
        assert.ok(slept.usage.wallMs >= 190, `wall ${slept.usage.wallMs}`);
        assert.ok(slept.usage.cpuMs < 50, `cpu ${slept.usage.cpuMs}`);
      } finally {
        await runtime.close();
      }
    });

    test("a timer beyond the wall clock ends the run at its timeout; pending timers die with the result", async () => {
      const runtime = await testRuntime(engine);
      try {
        const late = await runtime.run(`export default () => new Promise((r) => setTimeout(r, 10_000))`, {
          limits: { timeoutMs: 150 },
        });
        assert.equal(!late.ok && late.error.code, "WARDEN_LIMIT_TIMEOUT");
        const left = await runtime.run(`setTimeout(() => { for (;;) {} }, 10); "answered"`);
        assert.equal(left.ok && left.value, "answered");
        assert.ok(left.usage.wallMs < 1000);
        assert.equal(await value(runtime, "1 + 1"), 2);
      } finally {
        await runtime.close();
      }
    });

    test("a million timers cost the guest's own memory and budget, never the host", async () => {
      const runtime = await testRuntime(engine);
      try {
        const result = await runtime.run(`for (let i = 0; i < 1e6; i++) setTimeout(() => {}, 1000 + i); "set"`, {
          limits: { timeoutMs: 5000 },
        });
        assert.equal(result.ok, false, "a million timers fit no default budget");
        assert.equal(result.error.name, "LimitExceededError");
        assert.equal(await value(runtime, "typeof setTimeout"), "function");
      } finally {
        await runtime.close();
      }
    });

    test("datastore(name): operations from the guest, state on the host, value sizes and caps enforced", async () => {
      const store = await createDatastore("memory:");
      const runtime = await testRuntime(engine, { datastore: store, datastoreNamespaces: ["app", "other"] });
      try {
        const result = await value(
          runtime,
          `export default async () => {
            const s = datastore("app");
            await s.set("user:1", { name: "Ada" });
            await s.set("user:2", { name: "Bob" });
            const counts = [await s.increment("hits"), await s.increment("hits", 10)];
            await s.push("queue", 1); await s.push("queue", 2);
            return [await s.get("user:1"), await s.has("nope"), counts, await s.shift("queue"), await s.pop("queue"),
              await s.keys({ prefix: "user:" }), await s.delete("user:2"), typeof (await s.size())];
          }`,
        );
        assert.deepEqual(result, [{ name: "Ada" }, false, [1, 11], 1, 2, ["user:1", "user:2"], true, "number"]);
        assert.deepEqual(await store.namespace("app").get("user:1"), { name: "Ada" });
        const denied = await runtime.run(`export default async () => datastore("secret").get("k")`);
        assert.match(!denied.ok ? denied.error.message : "", /namespace "secret" is not allowed here/);
        const full = await runtime.run(`export default async () => datastore("other").set("k", "x".repeat(5000))`, {
          limits: { maxDatastoreBytes: 1000 },
        });
        assert.equal(!full.ok && full.error.code, "WARDEN_LIMIT_DATASTORE_SIZE");
        assert.equal(await store.namespace("other").has("k"), false, "nothing of a refused write is stored");
        const caught = await runtime.run(
          `export default async () => { try { await datastore("other").set("k", "x".repeat(5000)) } catch { return "caught" } }`,
          { limits: { maxDatastoreBytes: 1000 } },
        );
        assert.equal(!caught.ok && caught.error.code, "WARDEN_LIMIT_DATASTORE_SIZE", "a limit stays terminal");
        const bigArgs = await runtime.run(`export default async () => datastore("app").set("k", "y".repeat(3000))`, {
          limits: { maxValueBytes: 1000 },
        });
        assert.equal(!bigArgs.ok && bigArgs.error.code, "WARDEN_LIMIT_VALUE_SIZE");
        await store.namespace("app").set("huge", "z".repeat(5000));
        const bigAnswer = await runtime.run(`export default async () => (await datastore("app").get("huge")).length`, {
          limits: { maxValueBytes: 1000 },
        });
        assert.equal(!bigAnswer.ok && bigAnswer.error.code, "WARDEN_LIMIT_VALUE_SIZE");
      } finally {
        await runtime.close();
        await store.close();
      }
    });

    test("many concurrent runs filling one namespace never pass its cap together", async () => {
      const store = await createDatastore("memory:");
      const runtime = await testRuntime(engine, { datastore: store, poolSize: 2 });
      try {
        const runs = await Promise.all(
          Array.from({ length: 40 }, (_, i) =>
            runtime.run(`export default async () => datastore("shared").set("k${i}", "v".repeat(200))`, {
              limits: { maxDatastoreBytes: 2000 },
            }),
          ),
        );
        const stored = runs.filter((r) => r.ok).length;
        const refused = runs.filter((r) => !r.ok && r.error.code === "WARDEN_LIMIT_DATASTORE_SIZE").length;
        assert.equal(stored + refused, 40);
        assert.ok(refused > 0, "some writes must be refused");
        const used = await store.namespace("shared", { maxDatastoreBytes: 2000 }).size();
        assert.ok(used <= 2000, `used ${used} bytes`);
      } finally {
        await runtime.close();
        await store.close();
      }
    });

    test("a guest looping in a datastore callback hits its limit; the next run works", async () => {
      const runtime = await testRuntime(engine, { datastore: "memory:" });
      try {
        const looped = await runtime.run(
          `export default async () => { await datastore("a").set("k", 1); for (;;) {} }`,
          { limits: { timeoutMs: 300 } },
        );
        assert.equal(!looped.ok && looped.error.name, "LimitExceededError");
        assert.equal(await value(runtime, `export default async () => datastore("a").get("k")`), 1);
      } finally {
        await runtime.close();
      }
    });

    test("a warm instance keeps its datastore between calls; timers of a finished call are cancelled", async () => {
      const runtime = await testRuntime(engine, { datastore: "memory:" });
      try {
        const app = await runtime.load(
          `let fired = 0;
          export default async (key) => {
            setTimeout(() => fired++, 5_000);
            return [await datastore("warm").increment(key), fired];
          }`,
        );
        for (let i = 1; i <= 3; i++) {
          const result = await app.call("n");
          assert.deepEqual(result.ok && result.value, [i, 0]);
        }
      } finally {
        await runtime.close();
      }
    });

    test("without a datastore, datastore() says so", async () => {
      const runtime = await testRuntime(engine);
      try {
        const result = await runtime.run(`export default async () => datastore("x").get("k")`);
        assert.match(!result.ok ? result.error.message : "", /this runtime has no datastore/);
      } finally {
        await runtime.close();
      }
    });
  });
}
