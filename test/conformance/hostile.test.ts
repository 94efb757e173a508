// Hostile scripts: every one ends in a typed error, and the host lives on.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import type { Runtime } from "../../src/index.js";
import { TEST_ENGINES, testRuntime, value, limitHit, scriptError } from "../helpers/runtime.js";

// Hard limits small enough to keep the suite fast.
const FAST = { timeoutMs: 1000, cpuTimeMs: 1000, memoryBytes: 32e6 } as const;
const NO_FUEL = { ...FAST, maxInstructions: -1 } as const;
// Memory bombs get time to spare: the memory limit must end them, however busy the machine.
const BOMB = { ...NO_FUEL, timeoutMs: 10_000, cpuTimeMs: 10_000 } as const;

for (const engine of TEST_ENGINES) {
  describe(`hostile scripts [${engine}]`, () => {
    let runtime: Runtime;
    before(async () => {
      runtime = await testRuntime(engine, { limits: FAST });
    });
    after(async () => {
      await runtime.close();
    });

    describe("recursion", () => {
      const chain = (n: number) => `function down(n) { return n <= 1 ? 1 : 1 + down(n - 1) } down(${n})`;

      test("a chain exactly N deep succeeds and N+1 fails, for N = 100 and the default 10000", async () => {
        const small = { limits: { maxRecursionDepth: 100 } };
        assert.equal(await value(runtime, chain(100), small), 100);
        const over = await limitHit(runtime, "recursion", chain(101), small);
        assert.equal(over.error.message, "maximum recursion depth exceeded (100 calls)");
        assert.match((over.error as { hint?: string }).hint ?? "", /infinite recursion/);
        assert.equal(await value(runtime, chain(10000)), 10000);
        await limitHit(runtime, "recursion", chain(10001));
      });

      test("infinite and mutual recursion", async () => {
        await limitHit(runtime, "recursion", "function f() { return f() } f()");
        await limitHit(
          runtime,
          "recursion",
          "function a(n) { return b(n + 1) } function b(n) { return a(n + 1) } a(0)",
        );
        await limitHit(runtime, "recursion", "const f = () => f(); f()");
        await limitHit(runtime, "recursion", "class A { m() { return this.m() } } new A().m()");
      });

      test("recursion through native frames", async () => {
        const limits = { limits: { maxRecursionDepth: 200 } };
        await limitHit(runtime, "recursion", "function f() { return [1].map(f) } f()", limits);
        await limitHit(runtime, "recursion", "const o = { get x() { return this.x } }; o.x", limits);
        await limitHit(runtime, "recursion", "const o = { valueOf() { return o + 1 } }; o + 1", limits);
        await limitHit(
          runtime,
          "recursion",
          "const o = { toJSON() { return JSON.stringify(o) } }; JSON.stringify(o)",
          limits,
        );
        await limitHit(runtime, "recursion", "const p = new Proxy({}, { get(t, k, r) { return r[k] } }); p.x", limits);
        await limitHit(runtime, "recursion", "function* g() { yield* g() } g().next()", limits);
        await limitHit(
          runtime,
          "recursion",
          "[3, 1, 2].sort(function cmp(a, b) { return [a, b].sort(cmp)[0] })",
          limits,
        );
      });

      test("async recursion counts only frames really on the stack", async () => {
        // 5000 pending async calls are not a 5000-deep stack.
        const pending =
          "async function f(n) { await null; return n } const ps = []; for (let i = 0; i < 5000; i++) ps.push(f(i)); Promise.all(ps).then((a) => a.length)";
        assert.equal(await value(runtime, pending, { limits: { maxRecursionDepth: 100 } }), 5000);
        const deep = "async function f(n) { if (n > 0) await f(n - 1); return n } f(1000)";
        await limitHit(runtime, "recursion", deep, { limits: { maxRecursionDepth: 100 } });
      });
    });

    describe("loops", () => {
      test("while(true) ends by timeout, CPU or instructions, whichever comes first", async () => {
        await limitHit(runtime, "timeout", "while (true) {}", { limits: { ...NO_FUEL, timeoutMs: 50 } });
        await limitHit(runtime, "cpu", "while (true) {}", { limits: { ...NO_FUEL, cpuTimeMs: 50 } });
        const fuel = await limitHit(runtime, "instructions", "while (true) {}");
        assert.equal(fuel.error.message, "instruction limit exceeded (10000000)");
      });

      test("loops in catch and finally cannot outlive the limit", async () => {
        const lines: string[] = [];
        const onConsole = (_l: string, text: string) => lines.push(text);
        await limitHit(
          runtime,
          "instructions",
          "try { while (true) {} } catch (e) { console.log('caught'); } finally { console.log('finally'); while (true) {} }",
          {
            onConsole,
            limits: { maxInstructions: 1000 },
          },
        );
        await limitHit(runtime, "timeout", "try { while (true) {} } finally { console.log('finally'); for (;;) {} }", {
          onConsole,
          limits: { ...NO_FUEL, timeoutMs: 50 },
        });
        assert.deepEqual(lines, []);
      });

      test("swallowing attempts: catch, catch without binding, promise catch, finally return", async () => {
        const lines: string[] = [];
        const onConsole = (_l: string, text: string) => lines.push(text);
        const limits = { maxInstructions: 1000 };
        await limitHit(runtime, "instructions", "for (;;) { try { for (;;) {} } catch { console.log('again') } }", {
          onConsole,
          limits,
        });
        await limitHit(
          runtime,
          "instructions",
          "function f() { try { while (true) {} } finally { return 1 } } f(); console.log('after')",
          { onConsole, limits },
        );
        await limitHit(
          runtime,
          "instructions",
          "export default async () => { await Promise.resolve().then(() => { while (true) {} }).catch((e) => console.log('p', e)); return 'survived' }",
          {
            onConsole,
            limits,
            filename: "m.mjs",
          },
        );
        await limitHit(
          runtime,
          "recursion",
          "function f() { f() } try { f() } catch ({ message }) { console.log(message) } 'survived'",
          { onConsole },
        );
        await limitHit(runtime, "recursion", "function f() { f() } let r; try { f() } catch (e) { r = e } r", {
          onConsole,
        });
        assert.deepEqual(lines, []);
      });

      test("loops after await and microtask floods", async () => {
        await limitHit(runtime, "timeout", "export default async () => { await null; while (true) {} }", {
          filename: "m.mjs",
          limits: { ...NO_FUEL, timeoutMs: 50 },
        });
        await limitHit(
          runtime,
          "cpu",
          "export default async () => { for (let i = 0; i < 3; i++) await null; for (;;) {} }",
          { filename: "m.mjs", limits: { ...NO_FUEL, cpuTimeMs: 50 } },
        );
        // A budget the flood exhausts well inside the timeout on both engines (QuickJS runs about
        // 200,000 promise jobs per second, so the default 10,000,000 would meet the timeout first).
        await limitHit(runtime, "instructions", "function f() { Promise.resolve().then(f) } f(); 1", {
          limits: { maxInstructions: 20_000 },
        });
        await limitHit(runtime, "timeout", "function f() { Promise.resolve().then(f) } f(); 1", {
          limits: { ...NO_FUEL, timeoutMs: 50 },
        });
      });

      test("catastrophic regular expressions are stopped", async () => {
        await limitHit(runtime, "timeout", "/^(a+)+$/.test('a'.repeat(40) + '!')", {
          limits: { ...NO_FUEL, timeoutMs: 100 },
        });
      });
    });

    describe("memory", () => {
      const bombs: Record<string, string> = {
        arrays: "const a = []; for (;;) a.push([1, 2, 3, 4, 5, 6, 7, 8])",
        strings: "const a = []; let s = 'x'; for (;;) { s = s + s.length; a.push(s) }",
        doubling: "let s = 'xxxxxxxxxxxxxxxx'; for (;;) { s = s + s; s.charCodeAt(s.length - 1) }",
        maps: "const all = []; for (;;) { const m = new Map(); for (let i = 0; i < 64; i++) m.set('k' + i, { i }); all.push(m) }",
        arrayBuffers: "const a = []; for (;;) a.push(new ArrayBuffer(1 << 20))",
        hugeArrayBuffer: "new Uint8Array(4 * 1024 * 1024 * 1024).length",
        repeat: "const s = 'x'.repeat(2 ** 27); s.charCodeAt(s.length - 1)",
      };
      for (const [name, source] of Object.entries(bombs)) {
        // On V8, "doubling" and "repeat" make one allocation larger than the heap
        // has left: a fatal V8 out-of-memory, which costs the sandbox process
        // (replaced), never the host.
        test(`memory bomb: ${name}`, async () => {
          const result = await limitHit(runtime, "memory", source, { limits: BOMB });
          assert.equal(result.error.message, "memory limit exceeded (32MB)");
        });
      }

      test("a guest cannot catch out-of-memory and carry on", async () => {
        const lines: string[] = [];
        await limitHit(
          runtime,
          "memory",
          "try { new ArrayBuffer(2 ** 31) } catch (e) { console.log('caught', e.message) } 'survived'",
          {
            limits: NO_FUEL,
            onConsole: (_l, t) => lines.push(t),
          },
        );
        assert.deepEqual(lines, []);
      });
    });

    describe("escapes", () => {
      test("the host's time instrumenting code made by eval counts against the CPU budget", async () => {
        // Each eval is of fresh code, 20 KB of a function never called: the host instruments all
        // of it, the engine barely runs it. Counted only on the isolate's clock (as V8's was), the
        // 100 ms budget ran out after about a second, the run's wall clock 8x its CPU.
        const source = `const body = "x = x + 1; ".repeat(2000); let x = 0;
          for (let i = 0; ; i++) eval("(function () { " + body + " })//" + i)`;
        const result = await limitHit(runtime, "cpu", source, {
          limits: { ...NO_FUEL, cpuTimeMs: 100, timeoutMs: 20_000 },
        });
        const { cpuMs, wallMs } = result.usage;
        assert.ok(cpuMs >= 100, `cpuMs ${cpuMs}`);
        // V8's CPU clock is the time spent in the isolate, and the host's is the time spent
        // answering it, so the two make up the run's wall clock, however busy the machine.
        if (engine === "v8") assert.ok(wallMs < 2 * cpuMs, `wall ${Math.round(wallMs)} ms for ${cpuMs} ms of CPU`);
      });

      test("code made by eval, Function and the other function constructors is metered like any guest code", async () => {
        const attempts = [
          "eval('while (true) {}')",
          "(0, eval)('while (true) {}')",
          "globalThis.eval('for (;;) {}')",
          "new Function('while (true) {}')()",
          "Function('for (;;) {}')()",
          "(function () {}).constructor('while (true) {}')()",
          "(async function () {}).constructor('while (true) {}')()",
          "(function* () {}).constructor('while (true) {}')().next()",
          "(async function* () {}).constructor('while (true) {}')().next()",
          "Reflect.construct(Function, ['while (true) {}'])()",
          "[].map.constructor('while (true) {}')()",
          "eval('try { while (true) {} } catch (e) {} finally { while (true) {} }')",
          "function f() { const local = 1; return eval('while (local) {}') } f()",
          "eval(...['while (true) {}'])",
        ];
        const limits = { limits: { maxInstructions: 100_000, timeoutMs: 5_000 } };
        for (const attempt of attempts) {
          const hit = await limitHit(runtime, "instructions", attempt, limits);
          assert.equal(hit.error.message, "instruction limit exceeded (100000)", attempt);
        }
        await limitHit(runtime, "recursion", "eval('function f() { return f() } f()')");
        await limitHit(
          runtime,
          "recursion",
          "new Function('function f() { try { return f() } catch (e) { return f() } } return f()')()",
        );
      });

      test("the sandbox's handling of compiled code never calls built-ins the guest replaced", async () => {
        // Each replacement would hand the engine uninstrumented code (a loop no limit counts but the
        // wall clock) if the sandbox called it; the code asked for runs instead, metered.
        const attempts: [string, unknown][] = [
          ["String.prototype.slice = () => 'for (;;) {}'; eval('1')", 1],
          ["String.prototype.slice = () => 'for (;;) {}'; new Function('return 2')()", 2],
          ["String.prototype.isWellFormed = () => false; JSON.parse = () => 'for (;;) {}'; eval('3')", 3],
          ["JSON.stringify = () => 'for (;;) {}'; eval('\"\\uD800\".length + 3')", 4],
        ];
        for (const [attempt, expected] of attempts) {
          const result = await runtime.run(attempt, { limits: { maxInstructions: 100_000, timeoutMs: 5_000 } });
          assert.ok(result.ok, `${attempt}: ${result.ok ? "" : result.error.message}`);
          assert.equal(result.value, expected, attempt);
        }
      });

      test("with cannot lend the instrumentation's names to the guest", async () => {
        const limits = { limits: { maxInstructions: 100_000, timeoutMs: 5_000 } };
        await limitHit(
          runtime,
          "instructions",
          "const o = {}; o['__war' + 'denF'] = 1e15; with (o) { for (;;) {} }",
          limits,
        );
        await limitHit(
          runtime,
          "instructions",
          "with (new Proxy({}, { has: () => true, get: () => () => {} })) { try { for (;;) {} } catch (e) {} } 'escaped'",
          limits,
        );
        await limitHit(
          runtime,
          "recursion",
          "const o = { ['__war' + 'denM']: 1e9 }; with (o) { (function f() { f() })() }",
        );
      });

      test("reserved instrumentation names cannot be touched, even through eval", async () => {
        for (const attempt of [
          "eval('__wardenF = 1e9')",
          "new Function('__wardenF = 1e9')()",
          "Function('a = __wardenD', '')",
        ]) {
          const error = await scriptError(runtime, attempt);
          assert.equal(error.guestName, "SyntaxError", attempt);
          assert.match(error.guestMessage, /reserved/, attempt);
        }
      });

      test("reserved instrumentation names cannot be touched", async () => {
        const error = await scriptError(runtime, "__wardenF = 1e9; while (true) {}");
        assert.match(error.guestMessage, /reserved/);
        assert.equal(
          await value(runtime, "const p = '__war' + 'den'; typeof globalThis[p + 'F'] + typeof globalThis[p + 'T']"),
          "undefinedundefined",
        );
      });

      test("nothing of the host is reachable", async () => {
        assert.deepEqual(
          await value(
            runtime,
            "[typeof process, typeof require, typeof module, typeof Buffer, typeof setTimeout === 'function' ? 'timer' : 'none']",
          ),
          ["undefined", "undefined", "undefined", "undefined", "timer"],
        );
        // The sandbox's timers and datastore are its own functions: nothing of the host behind them.
        assert.equal(
          await value(
            runtime,
            "[setTimeout, datastore, URL].map((f) => f.constructor('return typeof process')()).join()",
          ),
          "undefined,undefined,undefined",
        );
        assert.equal(await value(runtime, "this.constructor.constructor('return typeof process')()"), "undefined");
        const staticImport = await scriptError(runtime, "import fs from 'node:fs'; export default () => fs", {
          filename: "m.mjs",
        });
        assert.match(staticImport.message, /not available in the sandbox/);
        const dynamicImport = await scriptError(
          runtime,
          "export default async () => (await import('node:fs')).readFileSync",
          { filename: "m.mjs" },
        );
        assert.match(dynamicImport.message, /not available in the sandbox/);
      });

      test("stack traces show the guest's file only, never host paths", async () => {
        const error = await scriptError(runtime, "function f() { null.x }\n[1].map(f)", { filename: "user.js" });
        assert.match(error.guestStack, /user\.js:1:\d+/);
        assert.doesNotMatch(error.guestStack, /node_modules|\/work\/|warden:prelude|isolated-vm|file:\/\//);
        const stackText = await value(runtime, "try { null.x } catch (e) { e.stack }", { filename: "user.js" });
        assert.doesNotMatch(String(stackText), /node_modules|\/work\/|file:\/\//);
      });
    });

    test("after 50 memory, loop and recursion bombs each, a normal script succeeds and host memory is back", async () => {
      const bombs = [
        { source: "const a = []; for (;;) a.push(new Array(1000).fill(1))", limits: NO_FUEL, kind: "memory" },
        { source: "while (true) {}", limits: { maxInstructions: 100_000 }, kind: "instructions" },
        { source: "function f() { return f() } f()", limits: {}, kind: "recursion" },
      ] as const;
      await value(runtime, "1");
      globalThis.gc?.();
      const before = process.memoryUsage();
      for (const bomb of bombs) {
        for (let i = 0; i < 50; i++) {
          await limitHit(runtime, bomb.kind, bomb.source, { limits: { ...bomb.limits, memoryBytes: 16e6 } });
        }
      }
      assert.equal(await value(runtime, "[1, 2, 3].reduce((a, b) => a + b)"), 6);
      globalThis.gc?.();
      const afterRuns = process.memoryUsage();
      const growth = afterRuns.rss - before.rss;
      console.log(
        `host rss before ${(before.rss / 1e6).toFixed(1)}MB, after 150 bombs ${(afterRuns.rss / 1e6).toFixed(1)}MB`,
      );
      assert.ok(growth < 150e6, `host rss grew by ${(growth / 1e6).toFixed(1)}MB`);
    });
  });
}

for (const engine of TEST_ENGINES) {
  test(`deeply nested source runs or is a script error, never a host exception [${engine}]`, async () => {
    const runtime = await testRuntime(engine);
    try {
      for (const source of [
        "{".repeat(20000) + "}".repeat(20000),
        Array(50000).fill("1").join("+"),
        "x ? ".repeat(20000) + "1" + " : 2".repeat(20000),
        "[".repeat(20000) + "]".repeat(20000),
      ]) {
        // Where the source is prepared decides how deep it may nest (a QuickJS worker has a deep
        // stack): it may run, or fail as the guest's own error; never as anything else.
        const result = await runtime.run(source);
        assert.ok(
          result.ok || ["ScriptError", "LimitExceededError"].includes(result.error.name),
          !result.ok ? result.error.message : "",
        );
      }
      assert.equal(await value(runtime, "1 + 1"), 2);
    } finally {
      await runtime.close();
    }
  });
}
