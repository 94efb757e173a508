// A QuickJS run whose promise jobs grow the WebAssembly heap leaves nothing behind in its runtime.
// quickjs-emscripten's runtime.executePendingJobs() read the last job's context through a view of
// the memory made before the jobs ran; once a job grew the memory the view was detached, and the
// library made a new JSContext that was never freed: JS_FreeRuntime then aborted on its leak check
// (printed on stderr) and the worker replaced its whole module after the run.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { QuickJSHeap } from "../../src/engine/quickjs/heap.js";
import { TEST_ENGINES } from "../helpers/runtime.js";

const skip = !TEST_ENGINES.includes("quickjs") && "WARDEN_TEST_ENGINES leaves quickjs out";

const ROOT = resolve(import.meta.dirname, "../..");

/** About 2000 small functions: compiling them grows the heap past the sandbox's free reserve. */
const LARGE_CODE = Array.from({ length: 2000 }, (_, i) => `function f${i}(a) { return a + ${i}; }`).join("\n");

/** Guests whose promise jobs (a module's default export runs in one) grow the heap, each with its answer. */
const GUESTS: [source: string, expected: unknown][] = [
  // The lazily loaded "streams" platform group, first touched inside the default export.
  ["export default () => { ReadableStream; return 1 }", 1],
  ["export default async () => { await null; return typeof new TransformStream().readable }", "object"],
  [`export default () => { (0, eval)(${JSON.stringify(LARGE_CODE)}); return f1999(1) }`, 2000],
  [`export default () => { return eval(${JSON.stringify(LARGE_CODE + "\nf10(1)")}) }`, 11],
  [`Promise.resolve().then(() => new Function(${JSON.stringify(LARGE_CODE + "\nreturn f5(1)")})())`, 6],
  [`Promise.resolve().then(() => (0, eval)(${JSON.stringify(LARGE_CODE + "\nf7(1)")}))`, 8],
  // A job that grows the heap, then throws: the error is the guest's, read from the right context.
  [
    `export default () => { (0, eval)(${JSON.stringify(LARGE_CODE)}); throw new RangeError("after growth") }`,
    /^RangeError: after growth/,
  ],
];

describe("quickjs: promise jobs that grow the heap", { skip }, () => {
  test("the runtime of such a run is freed cleanly: nothing aborts on QuickJS's leak check", () => {
    // In a child process: emscripten prints the abort on the worker's stderr, which only a parent sees whole.
    const child = `
      import { createRuntime } from ${JSON.stringify(resolve(ROOT, "src/index.js"))};
      const runtime = await createRuntime({ engine: "quickjs", env: {}, configFile: false, poolSize: 1 });
      const chunks = [];
      for await (const chunk of process.stdin) chunks.push(chunk);
      const answers = [];
      for (const source of JSON.parse(Buffer.concat(chunks).toString("utf8"))) {
        const result = await runtime.run(source);
        answers.push(result.ok ? result.value : result.error.message);
        const next = await runtime.run("40 + 2");
        answers.push(next.ok ? next.value : next.error.message);
      }
      await runtime.close();
      process.stdout.write(JSON.stringify(answers));
    `;
    const result = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", child], {
      cwd: ROOT,
      // The guests are too long for one command-line argument.
      input: JSON.stringify(GUESTS.map(([source]) => source)),
      encoding: "utf8",
      timeout: 60_000,
      env: Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("WARDEN_"))),
    });
    assert.equal(result.status, 0, result.stderr);
    assert.doesNotMatch(result.stderr, /Aborted|gc_obj_list/);
    assert.equal(result.stderr, "");
    const answers = JSON.parse(result.stdout) as unknown[];
    assert.equal(answers.length, GUESTS.length * 2);
    GUESTS.forEach(([source, expected], i) => {
      const answer = answers[2 * i];
      if (expected instanceof RegExp) assert.match(String(answer), expected, source.slice(0, 80));
      else assert.equal(answer, expected, source.slice(0, 80));
      assert.equal(answers[2 * i + 1], 42);
    });
  });

  test("heap.executePendingJobs reads the job's context after the memory grew", async () => {
    const heap = await QuickJSHeap.create();
    const runtime = heap.module.newRuntime();
    const context = runtime.newContext();
    context.newString(LARGE_CODE).consume((code) => context.setProp(context.global, "CODE", code));

    assert.deepEqual(heap.executePendingJobs(runtime, context), { value: 0 });

    context.unwrapResult(context.evalCode("Promise.resolve().then(() => (0, eval)(CODE))")).dispose();
    const before = heap.bytes;
    const ran = heap.executePendingJobs(runtime, context);
    assert.ok(heap.bytes > before, "the job grew the WebAssembly memory");
    assert.deepEqual(ran, { value: 1 });

    // Two jobs, the second of which grows the memory again.
    context
      .unwrapResult(
        context.evalCode("Promise.resolve().then(() => 1).then(() => { globalThis.big = new ArrayBuffer(32 << 20) })"),
      )
      .dispose();
    const grownFrom = heap.bytes;
    assert.deepEqual(heap.executePendingJobs(runtime, context), { value: 2 });
    assert.ok(heap.bytes > grownFrom, "the second job grew the WebAssembly memory too");

    context.dispose();
    assert.doesNotThrow(() => runtime.dispose());
  });
});
