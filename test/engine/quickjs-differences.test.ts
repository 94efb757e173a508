// Every behaviour in which the QuickJS engine knowingly differs from the V8
// engine, one test each, run on every engine with the expected behaviour of
// each spelled out. docs/engines.md ("Documented differences") explains them;
// a difference that is not here and there is a bug.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import type { Runtime } from "../../src/index.js";
import { TEST_ENGINES, testRuntime, value, scriptError } from "../helpers/runtime.js";

for (const engine of TEST_ENGINES) {
  const quickjs = engine === "quickjs";

  describe(`documented engine differences [${engine}]`, () => {
    let runtime: Runtime;
    before(async () => {
      runtime = await testRuntime(engine, { limits: { timeoutMs: 2000, memoryBytes: 32e6 } });
    });
    after(async () => {
      await runtime.close();
    });

    test("error messages are each engine's own wording; names and positions agree", async () => {
      const error = await scriptError(runtime, "const o = null;\no.x", { filename: "m.js" });
      assert.equal(error.guestName, "TypeError");
      assert.equal(error.position?.line, 2);
      assert.equal(
        error.guestMessage,
        quickjs ? "cannot read property 'x' of null" : "Cannot read properties of null (reading 'x')",
      );
      const thrown = await scriptError(runtime, "throw { a: 1 }");
      assert.equal(thrown.guestName, "Error");
      assert.match(thrown.guestMessage, quickjs ? /^uncaught object: / : /not an instance of `Error`/);
    });

    test("a guest's own error.stack: V8 starts with the message and keeps 10 frames; QuickJS lists every frame only", async () => {
      const source =
        "function f(n) { if (n === 0) throw new Error('x'); return f(n - 1) }\n" +
        "let stack; try { f(20) } catch (e) { stack = e.stack } [typeof Error.stackTraceLimit, stack.split('\\n')]";
      const [limitType, lines] = (await value(runtime, source)) as [string, string[]];
      if (quickjs) {
        assert.equal(limitType, "undefined");
        assert.match(lines[0]!, /^\s+at f \(guest\.js:1:\d+\)$/);
        assert.ok(lines.filter((line) => /^\s+at /.test(line)).length > 20);
      } else {
        assert.equal(limitType, "number");
        assert.equal(lines[0], "Error: x");
        assert.equal(lines.length, 11);
      }
      // The stack a ScriptError reports has the same shape on both engines (test/engine/quickjs.test.ts).
    });

    test("Intl exists on V8 only; QuickJS's toLocaleString is not localised", async () => {
      const [intl, number] = (await value(runtime, "[typeof Intl, (1234.5).toLocaleString('en-US')]")) as string[];
      assert.equal(intl, quickjs ? "undefined" : "object");
      assert.equal(number, quickjs ? "1234.5" : "1,234.5");
    });

    test("Date#toString names the time zone on V8 only", async () => {
      const text = String(await value(runtime, "new Date(0).toString()"));
      assert.match(text, /^Thu Jan 01 1970 \d\d:00:00 GMT[+-]\d{4}/);
      assert.equal(/\(.+\)$/.test(text), !quickjs);
    });

    test("built-ins: QuickJS (2025) is newer than the V8 of Node 20 in places, and has no Atomics", async () => {
      const kinds = (await value(
        runtime,
        "[typeof Object.groupBy, typeof new Set().union, typeof Atomics]",
      )) as string[];
      assert.deepEqual(kinds, quickjs ? ["function", "function", "undefined"] : ["undefined", "undefined", "object"]);
    });

    test("a run stopped by its wall-clock budget reports the instructions it used on QuickJS, 0 on V8", async () => {
      const result = await runtime.run("while (true) {}", { limits: { timeoutMs: 100, maxInstructions: -1 } });
      assert.equal(!result.ok && result.error.message, "execution timeout after 100ms");
      if (quickjs) assert.ok(result.usage.instructions > 1000, `${result.usage.instructions}`);
      else assert.equal(result.usage.instructions, 0);
    });

    test(
      "without a memory limit, QuickJS still stops at its 2 GiB heap ceiling (V8: 4 GiB)",
      { skip: !quickjs },
      async () => {
        // Not run on V8: it would really allocate the 2 GB.
        const result = await runtime.run("try { new ArrayBuffer(2 ** 31 - 1) } catch { 'caught' }", {
          limits: { memoryBytes: -1 },
        });
        assert.equal(!result.ok && result.error.message, "memory limit exceeded (2GiB)");
        // Over-long buffers and strings are RangeErrors without a memory limit, as on V8.
        const error = await scriptError(runtime, "'x'.repeat(2 ** 30)", { limits: { memoryBytes: -1 } });
        assert.equal(error.guestName, "RangeError");
      },
    );

    test(
      "without a wall-clock budget, a result nothing can settle ends at once on QuickJS (V8 waits forever)",
      { skip: !quickjs },
      async () => {
        // Not run on V8: the run would never end.
        const error = await scriptError(runtime, "new Promise(() => {})", { limits: { timeoutMs: -1 } });
        assert.match(error.guestMessage, /never settles/);
      },
    );
  });
}
