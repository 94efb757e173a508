// The QuickJS engine's own machinery: worker threads, the main-thread backstop,
// replacement of damaged workers, the metered heap, terminal out-of-memory.
// The behaviour both engines share is tested by test/conformance/.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Runtime, resolveLimits, type LimitOptions } from "../../src/index.js";
import { QuickJSEngine } from "../../src/engine/quickjs/engine.js";
import { TEST_ENGINES, value, limitHit, scriptError } from "../helpers/runtime.js";

const skip = !TEST_ENGINES.includes("quickjs") && "WARDEN_TEST_ENGINES leaves quickjs out";

/** A runtime on a QuickJS engine built with engine options the public API does not expose; every worker started. */
async function quickjsRuntime(
  options: { poolSize?: number; workerStackMb?: number } = {},
  limits: LimitOptions = {},
): Promise<Runtime> {
  const engine = await QuickJSEngine.create({ poolSize: 1, ...options });
  await engine.prewarm(options.poolSize ?? 1);
  return new Runtime(engine, resolveLimits({ env: {}, configFile: false, options: limits }));
}

/** A nested array the QuickJS JSON serialiser walks in one native call (no interrupt checks), quadratically. */
const STUCK_IN_NATIVE = "let a = []; for (let i = 0; i < 30000; i++) a = [a]; JSON.stringify(a).length";

describe("quickjs engine", { skip }, () => {
  let runtime: Runtime;
  before(async () => {
    runtime = await quickjsRuntime({ poolSize: 2 }, { timeoutMs: 2000, memoryBytes: 32e6 });
  });
  after(async () => {
    await runtime.close();
  });

  test("the host event loop keeps ticking while a guest spins", async () => {
    let last = performance.now();
    let worstGap = 0;
    const probe = setInterval(() => {
      const now = performance.now();
      worstGap = Math.max(worstGap, now - last);
      last = now;
    }, 5);
    try {
      await limitHit(runtime, "timeout", "while (true) {}", { limits: { timeoutMs: 300, maxInstructions: -1 } });
    } finally {
      clearInterval(probe);
    }
    assert.ok(worstGap < 100, `the event loop stalled for ${worstGap.toFixed(1)}ms`);
  });

  test("runs go to separate workers of the pool, in parallel", async () => {
    const started: number[] = [];
    const spin = () =>
      runtime.run("console.log('started'); while (true) {}", {
        limits: { timeoutMs: 400, maxInstructions: -1 },
        onConsole: () => started.push(performance.now()),
      });
    const first = spin().then(() => performance.now());
    const second = spin().then(() => performance.now());
    const ends = await Promise.all([first, second]);
    assert.equal(started.length, 2);
    assert.ok(Math.max(...started) < Math.min(...ends), "the second run started before the first one ended");
  });

  test("a worker stuck in one long native call is stopped at its budget by the main thread, then replaced", async () => {
    const started = performance.now();
    const timedOut = await limitHit(runtime, "timeout", STUCK_IN_NATIVE, { limits: { timeoutMs: 200 } });
    assert.equal(timedOut.error.message, "execution timeout after 200ms");
    assert.ok(performance.now() - started < 1500, "stopped soon after its budget");
    const cpu = await limitHit(runtime, "cpu", STUCK_IN_NATIVE, { limits: { cpuTimeMs: 200 } });
    assert.equal(cpu.error.message, "CPU time limit exceeded (200ms)");
    assert.equal(await value(runtime, "6 * 7"), 42);
  });

  test("aborting a run stuck in a native call stops it too", async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const started = performance.now();
    const result = await runtime.run(STUCK_IN_NATIVE, { signal: controller.signal });
    assert.equal(!result.ok && result.error.code, "WARDEN_ABORTED");
    assert.ok(performance.now() - started < 1000);
    assert.equal(await value(runtime, "1 + 1"), 2);
  });

  test("out of memory is terminal, however the guest tries to carry on", async () => {
    const lines: string[] = [];
    const onConsole = (_level: string, text: string) => lines.push(text);
    const bomb = "const a = []; for (;;) a.push({ n: a.length })";
    const attempts = [
      // A promise rejection handler is not a catch clause.
      `Promise.resolve().then(() => { ${bomb} }).catch(() => console.log('caught')).then(() => 'survived')`,
      // A finally that returns would swallow the error.
      `function f() { try { ${bomb} } finally { return 1 } } f(); console.log('after'); 'survived'`,
      // A catch that starts over, and a catch that never names the error.
      `let n = 0; for (;;) { try { ${bomb} } catch { n++; console.log('again', n) } }`,
      `export default async () => { try { ${bomb} } catch (e) { console.log(String(e)) } return 'survived' }`,
    ];
    for (const source of attempts) {
      const result = await limitHit(runtime, "memory", source, {
        limits: { maxInstructions: -1 },
        onConsole,
        filename: source.startsWith("export") ? "m.mjs" : "guest.js",
      });
      assert.equal(result.error.message, "memory limit exceeded (32MB)");
    }
    assert.deepEqual(lines, []);
  });

  test("the memory limit is a heap budget: a run gets its limit, whatever ran before it", async () => {
    const allocate = (mb: number) =>
      `const keep = []; for (let i = 0; i < ${mb}; i++) keep.push(new Uint8Array(1024 * 1024)); keep.length`;
    // A big run leaves a big heap behind; the next, smaller budget still holds.
    assert.equal(await value(runtime, allocate(70), { limits: { memoryBytes: 100e6 } }), 70);
    // 10MB is 9.5MiB: nine 1MiB buffers fit, eleven do not.
    assert.equal(await value(runtime, allocate(9), { limits: { memoryBytes: 10e6 } }), 9);
    const over = await limitHit(runtime, "memory", allocate(11), { limits: { memoryBytes: 10e6 } });
    assert.equal(over.error.message, "memory limit exceeded (10MB)");
    const grown = await runtime.run(allocate(20), { limits: { memoryBytes: 40e6 } });
    assert.ok(grown.ok);
    assert.ok(grown.usage.peakMemoryBytes >= 20 * 2 ** 20, `peak ${grown.usage.peakMemoryBytes}`);
    assert.ok(grown.usage.peakMemoryBytes < 40e6, `peak ${grown.usage.peakMemoryBytes}`);
  });

  test("a result that never settles ends at the timeout, without holding its worker meanwhile", async () => {
    const single = await quickjsRuntime({ poolSize: 1 }, { timeoutMs: 400, warnAt: 0.5 });
    const warnings: string[] = [];
    single.on("warning", (warning) => warnings.push(warning.budget));
    try {
      const stalled = single.run("new Promise(() => {})");
      const started = performance.now();
      assert.equal(await value(single, "1 + 1"), 2);
      assert.ok(performance.now() - started < 300, "the other run did not wait for the stalled one");
      const result = await stalled;
      assert.equal(!result.ok && result.error.message, "execution timeout after 400ms");
      assert.deepEqual(warnings, ["timeout"]);
    } finally {
      await single.close();
    }
  });

  test("an abort while the run waits for a worker gives up the wait, and the worker is not lost", async () => {
    const single = await quickjsRuntime({ poolSize: 1 });
    try {
      const busy = single.run("while (true) {}", { limits: { timeoutMs: 400, maxInstructions: -1 } });
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 50);
      const started = performance.now();
      const waiting = await single.run("1 + 1", { signal: controller.signal });
      assert.equal(!waiting.ok && waiting.error.code, "WARDEN_ABORTED");
      assert.ok(performance.now() - started < 300, "the abort did not wait for the busy worker");
      assert.equal((await busy).ok, false);
      assert.equal(await value(single, "2 + 3"), 5);
    } finally {
      await single.close();
    }
  });

  test("a host-side stack overflow throws the module instance away; the run gets the recursion error", async () => {
    // A small V8 stack makes QuickJS's native JSON parser overflow it before anything else.
    const small = await quickjsRuntime({ workerStackMb: 8 }, { memoryBytes: 200e6 });
    try {
      const overflow = await limitHit(small, "recursion", "JSON.parse('['.repeat(300000) + ']'.repeat(300000)).length");
      assert.equal(overflow.error.message, "maximum recursion depth exceeded (10000 calls)");
      assert.equal(await value(small, "[1, 2, 3].map((x) => x * 2).join()"), "2,4,6");
    } finally {
      await small.close();
    }
  });

  test("recursion through native calls at the default depth ends in the recursion error, never a host error", async () => {
    // At depth 10,000 these outrun QuickJS's own 4 MiB stack before the instrumented count.
    const sources = [
      "function f() { return [1].map(f) } f()",
      "const o = { toJSON() { return JSON.stringify(o) } }; JSON.stringify(o)",
      "const p = new Proxy({}, { get(t, k, r) { return r[k] } }); p.x",
      "[3, 1, 2].sort(function cmp(a, b) { return [a, b].sort(cmp)[0] })",
      "let a = []; for (let i = 0; i < 100000; i++) a = [a]; String(a)",
    ];
    for (const source of sources) {
      const result = await limitHit(runtime, "recursion", source, { limits: { maxInstructions: -1 } });
      assert.equal(result.error.message, "maximum recursion depth exceeded (10000 calls)", source);
    }
  });

  test("deeply nested source compiles and runs in QuickJS", async () => {
    // Near the nesting the instrumenter accepts on the host's own stack (acorn recurses too).
    const nested = [
      "[".repeat(500) + "1" + "]".repeat(500) + ".length",
      "(".repeat(500) + "1" + ")".repeat(500),
      "{".repeat(1000) + "}".repeat(1000) + " 1",
      "1" + "+1".repeat(1500),
    ];
    for (const source of nested) assert.ok((await runtime.run(source)).ok, source.slice(0, 20));
  });

  test("reported stacks have V8's shape: the error line, then at most ten of the guest's frames", async () => {
    const error = await scriptError(
      runtime,
      "function g() { throw new Error('deep') }\nfunction f(n) { return n ? f(n - 1) : g() }\nf(30)",
      { filename: "deep.js" },
    );
    const lines = error.guestStack.split("\n");
    assert.equal(lines[0], "Error: deep");
    assert.match(lines[1]!, /^\s+at g \(deep\.js:1:\d+\)$/);
    assert.ok(lines.length <= 11, `${lines.length} lines`);
    assert.deepEqual(error.position, { file: "deep.js", line: 1, column: error.position?.column });
  });

  test("CPU time is the worker thread's", async () => {
    // Stopped by its CPU budget: whatever else competes for the machine, the run used that much CPU.
    const result = await limitHit(runtime, "cpu", "while (true) {}", {
      limits: { cpuTimeMs: 100, timeoutMs: 5000, maxInstructions: -1 },
    });
    assert.ok(result.usage.cpuMs >= 100, `cpu ${result.usage.cpuMs}`);
    assert.ok(result.usage.cpuMs <= result.usage.wallMs + 20, `cpu ${result.usage.cpuMs}, wall ${result.usage.wallMs}`);
  });

  test("closing the engine stops runs in flight with an EngineError", async () => {
    const closing = await quickjsRuntime();
    const running = closing.run("while (true) {}", { limits: { timeoutMs: 5000, maxInstructions: -1 } });
    setTimeout(() => void closing.close(), 50);
    const result = await running;
    assert.equal(!result.ok && result.error.name, "EngineError");
  });
});
