// A fresh run with neither the instruction budget nor the depth limit is prepared without counting
// calls and loops; every other limit still holds, and either counting limit turns counting back on.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { prepareSource } from "../../src/transform/index.js";
import { TEST_ENGINES, limitHit, testRuntime, value } from "../helpers/runtime.js";

test("the uncounted preparation leaves out the counting, keeps the guards, and is cached apart", () => {
  const source = `function f(n) { for (let i = 0; i < n; i++) {} return n } try { f(3) } catch (e) { e } finally {}; f(2)`;
  const counted = prepareSource(source, "count.js");
  const uncounted = prepareSource(source, "count.js", false);
  assert.equal(counted.counted, true);
  assert.equal(uncounted.counted, false);
  assert.notEqual(counted.key, uncounted.key);
  assert.ok(counted.code.length > uncounted.code.length);
  // Counted code ticks in loops and counts frames; uncounted code does neither.
  assert.match(counted.code, /finally\{__warden\w+--\}/);
  assert.doesNotMatch(uncounted.code, /--\}|\+\+__warden/);
  // The catch and finally guards stay: a terminal limit error must not be swallowed either way.
  for (const prepared of [counted, uncounted]) assert.equal((prepared.code.match(/__warden\w+\(e\)/g) ?? []).length, 1);
  assert.equal(prepareSource(source, "count.js", false), uncounted, "cached by mode");
});

for (const engine of TEST_ENGINES) {
  describe(`runs without the counting limits [${engine}]`, () => {
    const OFF = { maxInstructions: -1, maxRecursionDepth: -1 } as const;

    test("results are the same; an endless loop still ends at the CPU budget; eval'd code runs too", async () => {
      const runtime = await testRuntime(engine);
      try {
        const fib = `function fib(n) { return n < 2 ? n : fib(n - 1) + fib(n - 2) } [fib(20), eval("fib(10) + 1"), new Function("a", "return a * 2")(21)]`;
        assert.deepEqual(await value(runtime, fib, { limits: OFF }), [6765, 56, 42]);
        assert.deepEqual(await value(runtime, fib), [6765, 56, 42]);
        const spin = await limitHit(runtime, "cpu", "for (;;) {}", { limits: { ...OFF, cpuTimeMs: 200 } });
        assert.equal(spin.error.name, "LimitExceededError");
        // Unbounded recursion ends at the engine's own stack, which is terminal as with the counted code.
        const deep = await limitHit(
          runtime,
          "recursion",
          `function r() { return r() } try { r() } catch (e) { "swallowed" }`,
          { limits: OFF },
        );
        assert.equal(
          deep.error.message,
          "maximum recursion depth exceeded (the engine's call stack ran out; no depth limit is set)",
        );
        // The memory limit stays terminal: a catch cannot swallow it.
        await limitHit(
          runtime,
          "memory",
          `const keep = []; try { for (;;) keep.push(new Array(1e5).fill(1)) } catch (e) { "swallowed" }`,
          { limits: { ...OFF, memoryBytes: "32MB", cpuTimeMs: "10s" } },
        );
      } finally {
        await runtime.close();
      }
    });

    test("either counting limit alone turns the counting back on, for the run's eval'd code too", async () => {
      const runtime = await testRuntime(engine);
      try {
        await limitHit(runtime, "instructions", "for (;;) {}", {
          limits: { maxInstructions: 10_000, maxRecursionDepth: -1 },
        });
        await limitHit(runtime, "instructions", `eval("for (;;) {}")`, {
          limits: { maxInstructions: 10_000, maxRecursionDepth: -1 },
        });
        await limitHit(runtime, "recursion", "function r() { return r() } r()", {
          limits: { maxInstructions: -1, maxRecursionDepth: 100 },
        });
        await limitHit(runtime, "recursion", `new Function("function r() { return r() } return r()")()`, {
          limits: { maxInstructions: -1, maxRecursionDepth: 100 },
        });
      } finally {
        await runtime.close();
      }
    });

    test("a warm instance loaded without them is counted: a call may turn them on", async () => {
      const runtime = await testRuntime(engine);
      try {
        const app = await runtime.load(`export default (n) => { let i = 0; while (i < n) i++; return i }`, {
          filename: "loop.js",
          limits: OFF,
        });
        assert.equal((await app.call(1000, { limits: OFF })).ok, true);
        const over = await app.call(1e6, { limits: { maxInstructions: 1000 } });
        assert.equal(!over.ok && over.error.code, "WARDEN_LIMIT_INSTRUCTIONS");
        await app.close();
      } finally {
        await runtime.close();
      }
    });
  });
}
