// A fresh QuickJS run starts from a copy of the prepared sandbox's memory, put back after every
// run (see docs/engines.md, "QuickJS memory"). One worker, so that every run here reuses the same
// module instance and its snapshot: nothing a run changed may reach the next, and the heap budget
// of every run is exactly its limit, whatever the runs before it allocated or grew.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Runtime, resolveLimits } from "../../src/index.js";
import { QuickJSEngine } from "../../src/engine/quickjs/engine.js";
import { cStackRange, QuickJSHeap } from "../../src/engine/quickjs/heap.js";
import { TEST_ENGINES, value, limitHit } from "../helpers/runtime.js";

const skip = !TEST_ENGINES.includes("quickjs") && "WARDEN_TEST_ENGINES leaves quickjs out";

const DIRTY = `
  globalThis.leaked = "from the run before";
  Object.prototype.polluted = 1;
  Array.prototype.push = function () { return "hijacked"; };
  JSON.stringify = () => "hijacked";
  Object.prototype[Symbol.for("warden:leak")] = 2;
  Object.freeze(Math);
  delete globalThis.Map;
  "dirty"
`;

const CHECK = `JSON.stringify([
  typeof leaked,
  ({}).polluted,
  [].push(1),
  Object.getOwnPropertySymbols(Object.prototype).map(String),
  ({})[Symbol.for("warden:leak")],
  Object.isFrozen(Math),
  typeof Map,
])`;
const CLEAN = JSON.stringify(["undefined", undefined, 1, [], undefined, false, "function"]);

const allocate = (mb: number) =>
  `const keep = []; for (let i = 0; i < ${mb}; i++) keep.push(new Uint8Array(1024 * 1024)); keep.length`;

describe("quickjs: runs restored from a snapshot", { skip }, () => {
  let runtime: Runtime;
  before(async () => {
    const engine = await QuickJSEngine.create({ poolSize: 1 });
    await engine.prewarm(1);
    runtime = new Runtime(engine, resolveLimits({ env: {}, configFile: false, options: { timeoutMs: 5000 } }));
  });
  after(async () => {
    await runtime.close();
  });

  test("each run sees a clean global state: globals, prototypes and the Symbol registry", async () => {
    assert.equal(await value(runtime, CHECK), CLEAN);
    for (let i = 0; i < 3; i++) {
      assert.equal(await value(runtime, DIRTY), "dirty");
      assert.equal(await value(runtime, CHECK), CLEAN);
    }
    // A module, and a run that throws after dirtying, leave nothing either.
    assert.equal(await value(runtime, `export default () => { ${DIRTY} }`, { filename: "m.mjs" }), undefined);
    assert.equal(await value(runtime, CHECK), CLEAN);
    const threw = await runtime.run(`${DIRTY}; throw new Error("after")`);
    assert.match(threw.ok ? "" : threw.error.message, /after/);
    assert.equal(await value(runtime, CHECK), CLEAN);
  });

  test("Math.random is seeded again for every run, and the platform clock starts again", async () => {
    const draws = new Set<unknown>();
    for (let i = 0; i < 5; i++) draws.add(await value(runtime, "Math.random()"));
    assert.equal(draws.size, 5);
    await value(runtime, "new Promise((resolve) => setTimeout(resolve, 300))");
    const now = (await value(runtime, "performance.now()")) as number;
    assert.ok(now < 250, `performance.now() ${now}`);
  });

  test("the memory limit holds across many runs, after runs that used and grew the heap", async () => {
    const limits = { memoryBytes: 10e6 };
    // 10MB is 9.5MiB: nine 1MiB buffers fit, eleven do not.
    assert.equal(await value(runtime, allocate(9), { limits }), 9);
    for (let i = 0; i < 40; i++) assert.equal(await value(runtime, `[1, 2, 3].map((x) => x * ${i}).length`), 3);
    let over = await limitHit(runtime, "memory", allocate(11), { limits });
    assert.equal(over.error.message, "memory limit exceeded (10MB)");
    // A run that grows the heap: what it grew must not be free budget for the runs after it.
    assert.equal(await value(runtime, allocate(24), { limits: { memoryBytes: 40e6 } }), 24);
    for (let i = 0; i < 40; i++) assert.equal(await value(runtime, `"x".repeat(${1000 + i}).length`), 1000 + i);
    assert.equal(await value(runtime, allocate(9), { limits }), 9);
    over = await limitHit(runtime, "memory", allocate(11), { limits });
    assert.equal(over.error.message, "memory limit exceeded (10MB)");
    // The budget is spent the same way every time, not a little more each run.
    for (let i = 0; i < 20; i++) {
      assert.equal(await value(runtime, allocate(9), { limits }), 9);
      over = await limitHit(runtime, "memory", allocate(11), { limits });
      assert.equal(over.error.message, "memory limit exceeded (10MB)");
    }
    assert.equal(await value(runtime, CHECK), CLEAN);
  });
});

describe("quickjs: the heap's snapshot and restore", { skip }, () => {
  test("restoring puts a runtime back as it was, and fills what a run grew with ballast", async () => {
    const heap = await QuickJSHeap.create();
    const runtime = heap.module.newRuntime();
    const context = runtime.newContext();
    const run = (code: string) => context.unwrapResult(context.evalCode(code)).consume((h) => context.dump(h));
    run("globalThis.kept = 1");
    heap.refill();
    const stack = await cStackRange();
    assert.ok(stack, "the C stack's range is read from the WebAssembly file");
    const snapshot = heap.snapshot(stack);
    assert.ok(snapshot.data.length < heap.bytes / 4, `copied ${snapshot.data.length} of ${heap.bytes} bytes`);

    run("globalThis.kept = 2; globalThis.added = 'x'.repeat(1000)");
    assert.equal(heap.restore(snapshot), "same");
    assert.deepEqual(run("[kept, typeof added]"), [1, "undefined"]);

    // A run that grows the memory: afterwards the growth is ballast, not free budget.
    heap.restore(snapshot);
    run("globalThis.big = Array.from({ length: 24 }, () => new Uint8Array(1024 * 1024)); big.length");
    const grown = heap.bytes;
    assert.ok(grown > snapshot.bytes + 20 * 2 ** 20);
    assert.equal(heap.restore(snapshot), "grown");
    assert.equal(heap.bytes, grown);
    const again = heap.snapshot(stack);
    assert.deepEqual(run("[kept, typeof big]"), [1, "undefined"]);
    // 4 MiB of budget: the memory grows by about 3 MiB for 3 MiB of buffers, whatever the last run grew.
    assert.equal(heap.restore(again), "same");
    heap.openBudget(4 * 2 ** 20);
    run("globalThis.some = Array.from({ length: 3 }, () => new Uint8Array(1024 * 1024)); some.length");
    assert.ok(heap.bytes > grown + 2 * 2 ** 20, `grew ${heap.bytes - grown}`);
    heap.lift();
    assert.equal(heap.restore(again), "grown");
    assert.deepEqual(run("[kept, typeof some]"), [1, "undefined"]);
    context.dispose();
    runtime.dispose();
  });
});
