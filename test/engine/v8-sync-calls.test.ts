// Short warm calls under a short CPU budget run synchronously in the V8 sandbox process (after a
// first short call), their budgets enforced by the process's synchronous watchdog: what a guest
// sees and what a limit does must be the same as for an asynchronous call.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createEngine, type Engine, type EngineInstance, type RunReporter } from "../../src/engine/index.js";
import { isLimitExceeded, isScriptError } from "../../src/errors/index.js";
import { resolveLimits, type LimitOptions } from "../../src/limits/index.js";

const quiet: RunReporter = { onConsole: () => {}, onWarning: () => {}, onHostCall: async () => "" };

// input.work picks what a call does; every call first counts, so state shows across calls.
const MODULE = `let calls = 0;
export default async (input) => {
  calls++;
  switch (input.work) {
    case "count": return calls;
    case "log": for (let i = 0; i < input.lines; i++) console.log("line " + i); if (input.then === "throw") throw new Error("after the lines"); if (input.then === "regexp") return /^(a+)+$/.test("a".repeat(40) + "b"); return calls;
    // Catastrophic backtracking: CPU in the engine's regexp code, which no instruction counts.
    case "regexp": return /^(a+)+$/.test("a".repeat(40) + "b");
    // Blocks the thread without using CPU: only the wall clock can stop it.
    case "block": Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60000); return "woke";
    case "timer": await new Promise((resolve) => setTimeout(resolve, 20)); return "after the timer " + calls;
    case "eval": return eval("1 + 2") + new Function("return 4")();
    // Fresh code for each eval, which the host instruments (20 KB of a function never called).
    case "evals": { const body = "x = x + 1; ".repeat(2000); let x = 0; for (let i = 0; ; i++) eval("(function () { " + body + " })//" + i); }
    case "throw": throw new RangeError("thrown at call " + calls);
    case "reject": return Promise.reject(new TypeError("rejected at call " + calls));
    case "spin": { const end = Date.now() + input.ms; let n = 0; while (Date.now() < end) n++; return n > 0; }
  }
};`;

const LIMITS: LimitOptions = { cpuTimeMs: "100ms", timeoutMs: "2s", maxInstructions: -1, warnAt: 0.5 };

describe("v8: synchronous warm calls", () => {
  let engine: Engine;
  before(async () => {
    engine = await createEngine("v8", { poolSize: 1 });
  });
  after(async () => {
    await engine.close();
  });

  const limitsOf = (options: LimitOptions) => resolveLimits({ env: {}, configFile: false, options }).values;

  async function loaded(options: LimitOptions = LIMITS): Promise<EngineInstance> {
    const outcome = await engine.load({ ...quiet, source: MODULE, filename: "work.js", limits: limitsOf(options) });
    assert.ok(outcome.ok, outcome.ok ? "" : outcome.error.message);
    return outcome.instance;
  }

  function call(
    instance: EngineInstance,
    input: unknown,
    options: LimitOptions = LIMITS,
    reporter: RunReporter = quiet,
  ) {
    return instance.call({ ...reporter, kind: "call", inputJson: JSON.stringify(input), limits: limitsOf(options) });
  }

  /** An instance whose next call is synchronous: its first call is not, and the first two are short. */
  async function warmed(options: LimitOptions = LIMITS): Promise<EngineInstance> {
    const instance = await loaded(options);
    await call(instance, { work: "count" }, options);
    await call(instance, { work: "count" }, options);
    return instance;
  }

  async function value(instance: EngineInstance, input: unknown): Promise<unknown> {
    const outcome = await call(instance, input);
    assert.ok(outcome.ok, outcome.ok ? "" : outcome.error.message);
    return JSON.parse(outcome.json) as unknown;
  }

  test("CPU that no instruction counts is stopped at the call's CPU budget; a fresh instance serves on", async () => {
    const instance = await loaded();
    try {
      assert.equal(await value(instance, { work: "count" }), 1);
      assert.equal(await value(instance, { work: "count" }), 2);
      const started = performance.now();
      const outcome = await call(instance, { work: "regexp" });
      const elapsed = performance.now() - started;
      assert.equal(outcome.ok, false);
      assert.ok(!outcome.ok && isLimitExceeded(outcome.error), "a limit error");
      assert.equal(outcome.error.kind, "cpu");
      assert.equal(outcome.error.limit, 100);
      assert.ok((outcome.error.observed ?? 0) >= 100, `observed ${outcome.error.observed}`);
      assert.ok(elapsed < 1_500, `stopped after ${Math.round(elapsed)} ms`);
      assert.equal(instance.alive, false, "the instance is recycled");
    } finally {
      await instance.close();
    }
    const fresh = await loaded();
    try {
      assert.equal(await value(fresh, { work: "count" }), 1);
    } finally {
      await fresh.close();
    }
  });

  test("the host's time instrumenting eval's code in a synchronous call counts against its CPU budget", async () => {
    const options: LimitOptions = { ...LIMITS, timeoutMs: "20s" };
    const instance = await warmed(options);
    try {
      const outcome = await call(instance, { work: "evals" }, options);
      assert.ok(!outcome.ok && isLimitExceeded(outcome.error), "a limit error");
      assert.equal(outcome.error.kind, "cpu");
      // The isolate's clock and the host's time answering it make up the call's wall clock (on the
      // isolate's clock alone, the wall clock was 8x the CPU: a second for a 100 ms budget).
      const { cpuMs, wallMs } = outcome.usage;
      assert.ok(cpuMs >= 100 && wallMs < 2 * cpuMs, `wall ${Math.round(wallMs)} ms for ${cpuMs} ms of CPU`);
    } finally {
      await instance.close();
    }
  });

  test("a call blocked without using CPU is stopped at its wall-clock budget", async () => {
    // isolated-vm counts a thread blocked in an isolate as CPU time: the wall clock runs out first.
    const options: LimitOptions = { ...LIMITS, timeoutMs: "60ms" };
    const instance = await warmed(options);
    try {
      const started = performance.now();
      const outcome = await call(instance, { work: "block" }, options);
      const elapsed = performance.now() - started;
      assert.ok(!outcome.ok && isLimitExceeded(outcome.error), "a limit error");
      assert.equal(outcome.error.kind, "timeout");
      assert.equal(outcome.error.limit, 60);
      assert.ok(elapsed < 2_000, `stopped after ${Math.round(elapsed)} ms`);
    } finally {
      await instance.close();
    }
  });

  test("a call that waits for a timer, eval, and the guest's own exceptions behave as in any call", async () => {
    const instance = await loaded();
    try {
      assert.equal(await value(instance, { work: "count" }), 1);
      assert.equal(await value(instance, { work: "timer" }), "after the timer 2");
      assert.equal(await value(instance, { work: "eval" }), 7);
      const thrown = await call(instance, { work: "throw" });
      assert.ok(!thrown.ok && isScriptError(thrown.error), "a script error");
      assert.equal(thrown.error.guestName, "RangeError");
      assert.equal(thrown.error.guestMessage, "thrown at call 4");
      const rejected = await call(instance, { work: "reject" });
      assert.ok(!rejected.ok && isScriptError(rejected.error), "a script error");
      assert.equal(rejected.error.guestMessage, "rejected at call 5");
      assert.equal(instance.alive, true, "the guest's own exceptions leave the instance alive");
      assert.equal(await value(instance, { work: "count" }), 6, "state carries on");
    } finally {
      await instance.close();
    }
  });

  test("a call's console lines all reach the host: with its answer, its exception or its limit", async () => {
    const instance = await warmed();
    try {
      for (const then of ["answer", "throw", "regexp"]) {
        const lines: string[] = [];
        const outcome = await call(instance, { work: "log", lines: 3, then }, LIMITS, {
          ...quiet,
          onConsole: (_level, text) => lines.push(text),
        });
        assert.deepEqual(lines, ["line 0", "line 1", "line 2"], `the lines of a call that ends with its ${then}`);
        assert.equal(outcome.ok, then === "answer");
      }
    } finally {
      await instance.close();
    }
  });

  test("a call past the warning threshold of its CPU budget warns", async () => {
    const instance = await warmed();
    try {
      const warnings: string[] = [];
      const outcome = await call(instance, { work: "spin", ms: 70 }, LIMITS, {
        ...quiet,
        onWarning: (budget) => warnings.push(budget),
      });
      assert.ok(outcome.ok, outcome.ok ? "" : outcome.error.message);
      assert.ok(warnings.includes("cpu"), `warnings: ${warnings.join(", ")}`);
    } finally {
      await instance.close();
    }
  });
});
