import assert from "node:assert/strict";
import { availableParallelism } from "node:os";
import { describe, test } from "node:test";
import type { Runtime } from "../../src/index.js";
import { defaultInstances } from "../../src/engine/index.js";
import { TEST_ENGINES, testRuntime } from "../helpers/runtime.js";

const COUNTER = `
let calls = 0;
export default function (input) {
  calls++;
  return { calls, input };
}
`;

async function withRuntime(engine: (typeof TEST_ENGINES)[number], body: (runtime: Runtime) => Promise<void>) {
  const runtime = await testRuntime(engine);
  try {
    await body(runtime);
  } finally {
    await runtime.close();
  }
}

function ok<T>(result: { ok: true; value: unknown } | { ok: false; error: Error }): T {
  if (!result.ok) assert.fail(`expected success, got ${result.error.name}: ${result.error.message}`);
  return result.value as T;
}

for (const engine of TEST_ENGINES) {
  describe(`runtime.load: warm instances [${engine}]`, () => {
    test("the module is evaluated once and its state persists between calls", async () => {
      await withRuntime(engine, async (runtime) => {
        const app = await runtime.load(COUNTER, { instances: 1 });
        assert.deepEqual(ok(await app.call({ a: 1 })), { calls: 1, input: { a: 1 } });
        assert.deepEqual(ok(await app.call("two")), { calls: 2, input: "two" });
        assert.deepEqual(ok(await app.call()), { calls: 3 });
        assert.deepEqual(app.stats(), { instances: 1, busy: 0, queued: 0, calls: 3, loads: 1, recycled: 0 });
        await app.close();
      });
    });

    test('isolation: "call" gives every call a fresh instance', async () => {
      await withRuntime(engine, async (runtime) => {
        const app = await runtime.load(COUNTER, { isolation: "call", instances: 1 });
        for (let i = 0; i < 3; i++) assert.deepEqual(ok(await app.call(i)), { calls: 1, input: i });
        assert.equal(app.stats().loads, 4); // the first load checks the module, then one per call
        await app.close();
      });
    });

    test("without `instances`, a quiet app keeps one instance and a busy one grows to the engine's default", async () => {
      await withRuntime(engine, async (runtime) => {
        const app = await runtime.load(
          `export default function (ms) { return new Promise((resolve) => setTimeout(() => resolve(ms), ms)); }`,
        );
        const expected = defaultInstances(engine, availableParallelism());
        assert.equal(app.maxInstances, expected);
        for (let i = 0; i < 3; i++) ok(await app.call(1));
        assert.equal(app.stats().instances, 1);
        // Calls that wait on a timer overlap: each waiting call makes room for one more instance.
        const results = await Promise.all(Array.from({ length: expected * 3 }, () => app.call(200)));
        for (const result of results) assert.equal(ok(result), 200);
        assert.equal(app.stats().instances, expected);
        await app.close();
      });
    });

    test("waitSignal gives up a waiting call; a running call ends normally and keeps its instance", async () => {
      await withRuntime(engine, async (runtime) => {
        const app = await runtime.load(
          `let calls = 0; export default async function (ms) { calls++; await new Promise((r) => setTimeout(r, ms)); return calls; }`,
          { instances: 1 },
        );
        const controller = new AbortController();
        const running = app.call(200, { waitSignal: controller.signal });
        const waiting = app.call(0, { waitSignal: controller.signal });
        setTimeout(() => controller.abort(), 50);
        assert.equal(ok(await running), 1);
        const given = await waiting;
        assert.equal(!given.ok && given.error.message, "the call was aborted while it waited for an instance");
        assert.equal(ok(await app.call(0)), 2);
        assert.equal(app.stats().recycled, 0);
        await app.close();
      });
    });

    test("a call whose signal or waitSignal is already aborted does not wait for a busy instance", async () => {
      await withRuntime(engine, async (runtime) => {
        const app = await runtime.load(
          `let calls = 0; export default async function (ms) { calls++; await new Promise((r) => setTimeout(r, ms)); return calls; }`,
          { instances: 1 },
        );
        const running = app.call(300);
        for (const options of [{ waitSignal: AbortSignal.abort() }, { signal: AbortSignal.abort() }]) {
          const started = performance.now();
          const given = await app.call(0, options);
          assert.equal(!given.ok && given.error.message, "the call was aborted while it waited for an instance");
          assert.ok(performance.now() - started < 200, "answered before the busy instance was free");
        }
        assert.equal(ok(await running), 1);
        assert.equal(ok(await app.call(0)), 2);
        await app.close();
      });
    });

    test("calls aborted as their answers arrive never leave a dead instance in use", async () => {
      await withRuntime(engine, async (runtime) => {
        const app = await runtime.load(`export default { fetch() { return new Response("hi"); } };`, {
          instances: 4,
        });
        const seen = new Map<string, number>();
        for (let round = 0; round < 12; round++) {
          const controllers = Array.from({ length: 24 }, () => new AbortController());
          const calls = controllers.map((controller) =>
            app.fetch(new Request("http://app/"), { signal: controller.signal }).then(
              async (response) => `ok ${await response.text()}`,
              (error: Error) => `${error.name}`,
            ),
          );
          // Aborts land at every stage of a call: waiting, in the sandbox, answered.
          setTimeout(() => controllers.slice(0, 8).forEach((controller) => controller.abort()), round % 4);
          for (const result of await Promise.all(calls)) seen.set(result, (seen.get(result) ?? 0) + 1);
        }
        // An abort that disposed the isolate just as its answer came used to be reported as a
        // success: the host kept the instance, and a later call failed with "the warm instance
        // is gone". Only answers and aborts may come back.
        assert.deepEqual(
          [...seen.keys()].filter((result) => result !== "ok hi" && result !== "AbortedError"),
          [],
          JSON.stringify(Object.fromEntries(seen)),
        );
        assert.ok((seen.get("ok hi") ?? 0) >= 12 * 16, JSON.stringify(Object.fromEntries(seen)));
        await app.close();
      });
    });

    test("each call reports its own CPU time, never more than its wall clock", async () => {
      await withRuntime(engine, async (runtime) => {
        const app = await runtime.load(
          `export default function (n) { let x = 0; for (let i = 0; i < n; i++) x += i; return x; }`,
          { instances: 1 },
        );
        const usages: { cpuMs: number; wallMs: number }[] = [];
        for (const n of [10, 10, 2_000_000, 10]) ok(await app.call(n, { onUsage: (usage) => usages.push(usage) }));
        // One thread runs a call: its CPU time fits in its wall clock, with 5 ms of slack (QuickJS
        // reads the thread's CPU clock, which the kernel updates at scheduler ticks: up to 4 ms
        // late). Counting from the load instead would add everything the worker did since, the
        // busy call's ~100 ms of CPU included.
        for (const { cpuMs, wallMs } of usages) assert.ok(cpuMs <= wallMs + 5, `cpu ${cpuMs} ms > wall ${wallMs} ms`);
        assert.ok(usages[2]!.cpuMs > usages[3]!.cpuMs, `the busy call used more CPU: ${JSON.stringify(usages)}`);
        await app.close();
      });
    });

    test("a call that hits a limit recycles its instance; the next call gets a fresh one", async () => {
      await withRuntime(engine, async (runtime) => {
        const app = await runtime.load(
          `let calls = 0; export default function (spin) { calls++; if (spin) for (;;) {} return calls; }`,
          { instances: 1 },
        );
        assert.equal(ok(await app.call(false)), 1);
        assert.equal(ok(await app.call(false)), 2);
        const hit = await app.call(true, { limits: { maxInstructions: 10_000 } });
        assert.equal(!hit.ok && hit.error.message, "instruction limit exceeded (10000)");
        const timed = await app.call(false);
        assert.equal(ok(timed), 1, "the state was reset with the instance");
        const slow = await app.call(true, { limits: { timeoutMs: 150, maxInstructions: -1 } });
        assert.equal(!slow.ok && slow.error.code, "WARDEN_LIMIT_TIMEOUT");
        assert.equal(ok(await app.call(false)), 1);
        const stats = app.stats();
        assert.equal(stats.recycled, 2);
        assert.equal(stats.loads, 3);
      });
    });

    test("the guest's own exception is a script error and keeps the instance", async () => {
      await withRuntime(engine, async (runtime) => {
        const app = await runtime.load(
          `let calls = 0; export default function (fail) { calls++; if (fail) throw new TypeError("bad " + calls); return calls; }`,
          { instances: 1 },
        );
        const failed = await app.call(true);
        assert.equal(!failed.ok && failed.error.name, "ScriptError");
        assert.match(!failed.ok ? failed.error.message : "", /TypeError: bad 1/);
        assert.equal(ok(await app.call(false)), 2);
        assert.equal(app.stats().recycled, 0);
      });
    });

    test("per-call budgets: each call gets the whole instruction budget again", async () => {
      await withRuntime(engine, async (runtime) => {
        const app = await runtime.load(
          `export default function (n) { let s = 0; for (let i = 0; i < n; i++) s += i; return s; }`,
          { instances: 1, limits: { maxInstructions: 50_000 } },
        );
        for (let i = 0; i < 5; i++) assert.equal(ok(await app.call(30_000)), (30_000 * 29_999) / 2);
        const hit = await app.call(60_000);
        assert.equal(!hit.ok && hit.error.code, "WARDEN_LIMIT_INSTRUCTIONS");
      });
    });

    test("memory is the instance's for its whole life: state that grows across calls hits the limit", async () => {
      await withRuntime(engine, async (runtime) => {
        const app = await runtime.load(
          `const kept = []; export default function () { kept.push(new Array(250_000).fill(kept.length)); return kept.length; }`,
          { instances: 1, limits: { memoryBytes: "32MB" } },
        );
        let hit: { ok: false; error: Error } | undefined;
        for (let i = 0; i < 40 && !hit; i++) {
          const result = await app.call();
          if (!result.ok) hit = result;
          else assert.equal(result.value, i + 1);
        }
        assert.ok(hit, "the growing state never hit the memory limit");
        assert.equal((hit.error as { kind?: string }).kind, "memory");
        assert.equal(ok(await app.call()), 1, "a fresh instance after the memory error");
      });
    });

    test("several instances serve calls in parallel, and calls beyond them wait in line", async () => {
      await withRuntime(engine, async (runtime) => {
        const app = await runtime.load(
          `export default function (ms) { const end = Date.now() + ms; while (Date.now() < end) {} return ms; }`,
          { instances: 2, limits: { maxInstructions: -1 } },
        );
        // Two calls at once make the app load its second instance; then six calls share both.
        await Promise.all([app.call(1), app.call(1)]);
        for (let waited = 0; app.stats().instances < 2 && waited < 10_000; waited += 10) {
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        const calls = Array.from({ length: 6 }, () => app.call(80));
        let maxBusy = 0;
        let maxQueued = 0;
        const sampler = setInterval(() => {
          const stats = app.stats();
          maxBusy = Math.max(maxBusy, stats.busy);
          maxQueued = Math.max(maxQueued, stats.queued);
        }, 5);
        try {
          for (const result of await Promise.all(calls)) assert.equal(ok(result), 80);
        } finally {
          clearInterval(sampler);
        }
        const stats = app.stats();
        assert.equal(maxBusy, 2, "two instances ran calls at once");
        assert.ok(maxQueued > 0, "calls beyond the instances waited");
        assert.equal(stats.calls, 8);
        assert.equal(stats.instances, 2);
        assert.equal(stats.loads, 2, "no more instances than the cap were ever loaded");
      });
    });

    test("an abort ends the call with AbortedError and recycles the instance; a waiting call can be aborted too", async () => {
      await withRuntime(engine, async (runtime) => {
        const app = await runtime.load(
          `let n = 0; export default function (spin) { n++; if (spin) for (;;) {} return n; }`,
          {
            instances: 1,
            limits: { maxInstructions: -1, timeoutMs: 5000 },
          },
        );
        const controller = new AbortController();
        const running = app.call(true, { signal: controller.signal });
        const waiter = new AbortController();
        const waiting = app.call(false, { signal: waiter.signal });
        setTimeout(() => waiter.abort(), 20);
        setTimeout(() => controller.abort(), 80);
        const [first, second] = await Promise.all([running, waiting]);
        assert.equal(!first.ok && first.error.code, "WARDEN_ABORTED");
        assert.equal(!second.ok && second.error.code, "WARDEN_ABORTED");
        assert.equal(ok(await app.call(false)), 1);
      });
    });

    test("a module that fails to load rejects with its typed error; a script is refused", async () => {
      await withRuntime(engine, async (runtime) => {
        await assert.rejects(runtime.load(`export default 1; throw new RangeError("at load");`), (error: Error) => {
          assert.equal(error.name, "ScriptError");
          assert.match(error.message, /RangeError: at load/);
          return true;
        });
        await assert.rejects(
          runtime.load(`export default () => 1; for (;;) {}`, { limits: { timeoutMs: 100, maxInstructions: -1 } }),
          {
            code: "WARDEN_LIMIT_TIMEOUT",
          },
        );
        await assert.rejects(runtime.load(`1 + 1`), /is a script, not an ES module/);
        const notAFunction = await runtime.load(`export default { value: 1 };`);
        const result = await notAFunction.call();
        assert.match(!result.ok ? result.error.message : "", /default export is not a function/);
      });
    });

    test("inputs and results are checked against maxValueBytes", async () => {
      await withRuntime(engine, async (runtime) => {
        const app = await runtime.load(`export default function (n) { return "x".repeat(n); }`, {
          limits: { maxValueBytes: 1000 },
        });
        const big = await app.call("y".repeat(2000));
        assert.equal(!big.ok && big.error.code, "WARDEN_LIMIT_VALUE_SIZE");
        const answer = await app.call(5000);
        assert.equal(!answer.ok && answer.error.code, "WARDEN_LIMIT_VALUE_SIZE");
        assert.equal(ok(await app.call(3)), "xxx");
      });
    });

    test("console output of a call reaches its callback and the runtime's event", async () => {
      await withRuntime(engine, async (runtime) => {
        const seen: string[] = [];
        runtime.on("console", (event) => seen.push(`event:${event.filename}:${event.text}`));
        const app = await runtime.load(
          `console.log("loaded"); export default (x) => { console.info("got", x); return x; };`,
          {
            filename: "plugin.js",
          },
        );
        const lines: string[] = [];
        ok(await app.call(7, { onConsole: (level, text) => lines.push(`${level}:${text}`) }));
        assert.deepEqual(lines, ["info:got 7"]);
        assert.deepEqual(seen, ["event:plugin.js:loaded", "event:plugin.js:got 7"]);
      });
    });

    test("fetch: the guest's framing headers are dropped; an Error logged prints its stack", async () => {
      await withRuntime(engine, async (runtime) => {
        const app = await runtime.load(
          `export default { fetch(request) {
            console.error(new TypeError("logged"));
            return new Response("ab", { status: 202, headers: { "transfer-encoding": "chunked", "content-length": "999", "x-kept": "1" } });
          } }`,
        );
        const lines: string[] = [];
        const response = await app.fetch(new Request("http://app.local/"), {
          onConsole: (_level, text) => lines.push(text),
        });
        assert.equal(response.status, 202);
        assert.equal(await response.text(), "ab");
        assert.equal(response.headers.get("x-kept"), "1");
        assert.equal(response.headers.get("transfer-encoding"), null);
        assert.equal(response.headers.get("content-length"), null);
        assert.match(lines[0] ?? "", /^TypeError: logged\n\s+at /);
      });
    });

    test("close releases the instances; later calls throw DisposedError; runtime.close closes its apps", async () => {
      const runtime = await testRuntime(engine);
      const app = await runtime.load(COUNTER);
      await app.close();
      await assert.rejects(app.call(1), { code: "WARDEN_DISPOSED" });
      const other = await runtime.load(COUNTER);
      await runtime.close();
      await assert.rejects(other.call(1), { code: "WARDEN_DISPOSED" });
    });
  });
}
