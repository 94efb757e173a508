// The runtime API contract, run against every engine.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { isLimitExceeded, type Runtime, type RuntimeWarning } from "../../src/index.js";
import { TEST_ENGINES, testRuntime, value, limitHit, scriptError } from "../helpers/runtime.js";

for (const engine of TEST_ENGINES) {
  describe(`runtime API [${engine}]`, () => {
    let runtime: Runtime;
    before(async () => {
      runtime = await testRuntime(engine);
    });
    after(async () => {
      await runtime.close();
    });

    test("a script's result is the completion value of its last expression", async () => {
      assert.equal(await value(runtime, "1 + 1"), 2);
      assert.deepEqual(await value(runtime, "const a = [1, 2]; a.map((x) => x * 10)"), [10, 20]);
      assert.equal(await value(runtime, "if (true) { 'then' } else { 'else' }"), "then");
      assert.equal(await value(runtime, "function f() {}"), undefined);
      assert.equal(await value(runtime, "let i = 0; for (; i < 5; i++) { i * 2 }"), 8);
    });

    test("a script sees its input as the global `input`; a promise result is awaited", async () => {
      assert.equal(await value(runtime, "input.a + input.b", { input: { a: 2, b: 3 } }), 5);
      assert.equal(await value(runtime, "Promise.resolve(7).then((x) => x * 6)"), 42);
    });

    test("a module's default export is called with the input and awaited", async () => {
      const source = "export default async function (input) { await null; return { twice: input * 2 } }";
      assert.deepEqual(await value(runtime, source, { input: 21, filename: "m.mjs" }), { twice: 42 });
      assert.equal(await value(runtime, "export default 5", { filename: "m.mjs" }), 5);
      assert.equal(await value(runtime, "export const x = 1", { filename: "m.mjs" }), undefined);
      assert.equal(
        await value(runtime, "const v = await Promise.resolve(3); export default () => v", { filename: "m.mjs" }),
        3,
      );
    });

    test("TypeScript runs with types stripped", async () => {
      const source =
        "interface P { x: number }\nconst p: P = { x: 4 };\nfunction sq(n: number): number { return n * n }\nsq(p.x)";
      assert.equal(await value(runtime, source, { filename: "job.ts" }), 16);
      const module = "type In = { n: number };\nexport default (input: In): number => input.n + 1;";
      assert.equal(await value(runtime, module, { filename: "job.ts", input: { n: 1 } }), 2);
    });

    test("errors point to the user's original TypeScript file, line and column", async () => {
      const source = [
        "interface User { name: string }",
        "type Id = number;",
        "function greet(user: User): string {",
        "  const id: Id = 1;",
        "  return (user as any).profile.title + id;",
        "}",
        "greet({ name: 'a' });",
      ].join("\n");
      const error = await scriptError(runtime, source, { filename: "app.ts" });
      assert.equal(error.guestName, "TypeError");
      assert.equal(error.position?.file, "app.ts");
      assert.equal(error.position?.line, 5);
      assert.ok(error.position!.column >= 10 && error.position!.column <= 33, `column ${error.position?.column}`);
      assert.match(error.guestStack, /app\.ts:5:\d+/);
      assert.match(error.guestStack, /app\.ts:7:\d+/);
    });

    test("syntax errors are script errors with the position", async () => {
      const js = await scriptError(runtime, "let a = 1;\nlet b = (;", { filename: "bad.js" });
      assert.equal(js.guestName, "SyntaxError");
      assert.deepEqual([js.position?.line, js.position?.column], [2, 10]);
      const ts = await scriptError(runtime, "const a: number = 1;\nconst b: string = ;", { filename: "bad.ts" });
      assert.equal(ts.position?.line, 2);
    });

    test("a thrown error keeps its name and message; non-errors are reported too", async () => {
      const error = await scriptError(runtime, "function f() {\n  throw new RangeError('nope ' + 42);\n}\nf();", {
        filename: "t.js",
      });
      assert.deepEqual([error.guestName, error.guestMessage, error.position?.line], ["RangeError", "nope 42", 2]);
      const rejected = await scriptError(runtime, "export default async () => { throw new Error('async no') }", {
        filename: "t.mjs",
      });
      assert.equal(rejected.guestMessage, "async no");
      await scriptError(runtime, "throw 42");
    });

    test("results are JSON data: functions dropped, special numbers null, cycles and BigInt refused", async () => {
      assert.deepEqual(
        await value(runtime, "({ f() {}, n: NaN, i: Infinity, d: new Date(0), u: undefined, a: [() => 1, -0] })"),
        {
          n: null,
          i: null,
          d: "1970-01-01T00:00:00.000Z",
          a: [null, 0],
        },
      );
      assert.equal(await value(runtime, "(() => 1)"), undefined);
      const cycle = await scriptError(runtime, "const a = {}; a.self = a; a");
      assert.equal(cycle.guestName, "TypeError");
      assert.match(cycle.guestMessage, /circular/i);
      assert.equal((await scriptError(runtime, "({ big: 10n })")).guestName, "TypeError");
    });

    test("usage reports wall, CPU, instructions and peak memory", async () => {
      const result = await runtime.run("let s = 0; for (let i = 0; i < 1000; i++) s += i; s");
      assert.ok(result.ok);
      assert.ok(result.usage.wallMs > 0);
      assert.ok(result.usage.cpuMs >= 0);
      assert.equal(result.usage.instructions, 1000);
      assert.ok(result.usage.peakMemoryBytes > 0);
    });

    test("instruction counting is exact and deterministic", async () => {
      const source =
        "function f(n) { return n < 2 ? n : f(n - 1) + f(n - 2) } let t = 0; for (let i = 0; i < 10; i++) t += f(10); t";
      const counts = new Set<number>();
      for (let i = 0; i < 3; i++) {
        const result = await runtime.run(source);
        assert.ok(result.ok);
        counts.add(result.usage.instructions);
      }
      // 10 loop iterations + 10 * 177 calls of f(10).
      assert.deepEqual([...counts], [10 + 10 * 177]);
      const exact = await runtime.run("for (let i = 0; i < 100; i++) {}", { limits: { maxInstructions: 100 } });
      assert.ok(exact.ok, "exactly the budget succeeds");
      await limitHit(runtime, "instructions", "for (let i = 0; i < 101; i++) {}", { limits: { maxInstructions: 100 } });
    });

    test("every run starts from a clean global state", async () => {
      await value(
        runtime,
        "globalThis.leak = 1; Array.prototype.evil = 1; Object.prototype.polluted = true; var g = 2; 0",
      );
      assert.deepEqual(await value(runtime, "[typeof leak, typeof g, [].evil, ({}).polluted]"), [
        "undefined",
        "undefined",
        null,
        null,
      ]);
    });

    test("console output reaches the host, one line per call", async () => {
      const lines: string[] = [];
      await value(runtime, "console.log('a', 1, { b: 2 }); console.error('oops'); 0", {
        onConsole: (level, text) => lines.push(`${level}:${text}`),
      });
      assert.deepEqual(lines, ['log:a 1 {"b":2}', "error:oops"]);
    });

    test("value size is enforced on input, result and console output", async () => {
      const limits = { maxValueBytes: 1000 };
      await limitHit(runtime, "value_size", "1", { input: "x".repeat(2000), limits });
      const big = await limitHit(runtime, "value_size", "'y'.repeat(5000)", { limits });
      assert.equal(big.error.message, "value size exceeds maximum (1KB)");
      await limitHit(runtime, "value_size", "console.log('z'.repeat(5000)); 1", { limits });
      assert.equal(await value(runtime, "'y'.repeat(900)", { limits }), "y".repeat(900));
    });

    test("warnings fire once per budget, naming it and the fraction used", async () => {
      const warnings: RuntimeWarning[] = [];
      const listener = (w: RuntimeWarning) => warnings.push(w);
      runtime.on("warning", listener);
      try {
        await value(runtime, "for (let i = 0; i < 950; i++) {} 1", { limits: { maxInstructions: 1000, warnAt: 0.9 } });
        assert.equal(warnings.length, 1);
        assert.equal(warnings[0]!.budget, "instructions");
        assert.ok(warnings[0]!.fraction >= 0.9 && warnings[0]!.fraction < 1);
        warnings.length = 0;
        await value(runtime, "for (let i = 0; i < 500; i++) {} 1", { limits: { maxInstructions: 1000, warnAt: 0.9 } });
        assert.equal(warnings.length, 0, "no warning under the threshold");
        await runtime.run("while (true) {}", {
          limits: { timeoutMs: 100, maxInstructions: -1, cpuTimeMs: -1, warnAt: 0.5 },
        });
        assert.deepEqual(
          warnings.map((w) => w.budget),
          ["timeout"],
        );
      } finally {
        runtime.off("warning", listener);
      }
    });

    test("limit errors carry kind, limit, unit and the table's message", async () => {
      const result = await limitHit(runtime, "timeout", "while (true) {}", {
        limits: { timeoutMs: 50, maxInstructions: -1 },
      });
      assert.ok(isLimitExceeded(result.error));
      assert.equal(result.error.message, "execution timeout after 50ms");
      assert.equal((result.error as { unit?: string }).unit, "ms");
    });

    test("a closed runtime refuses to run", async () => {
      const other = await testRuntime(engine);
      await other.close();
      await assert.rejects(() => other.run("1"), /closed/);
    });
  });
}

for (const engine of TEST_ENGINES) {
  test(`an aborted run stops at once with AbortedError, and the runtime goes on [${engine}]`, async () => {
    const runtime = await testRuntime(engine);
    try {
      const controller = new AbortController();
      const started = performance.now();
      setTimeout(() => controller.abort(), 50);
      const result = await runtime.run("while (true) {}", {
        signal: controller.signal,
        limits: { maxInstructions: -1 },
      });
      assert.equal(result.ok, false);
      assert.equal(!result.ok && result.error.code, "WARDEN_ABORTED");
      assert.ok(performance.now() - started < 1000);
      assert.equal(await value(runtime, "2 + 2"), 4);
    } finally {
      await runtime.close();
    }
  });
}
