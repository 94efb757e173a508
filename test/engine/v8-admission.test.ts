// The V8 engine hands each sandbox process a few runs at a time and queues the rest in the host.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRuntime } from "../../src/index.js";
import { RUNS_PER_PROCESS } from "../../src/engine/v8/wire.js";

test("many runs in flight all finish, and a queued run can be aborted before it starts", async () => {
  const runtime = await createRuntime({ engine: "v8", poolSize: 1, env: {}, configFile: false });
  try {
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => runtime.run(`${i} * 2`)));
    assert.deepEqual(
      results.map((r) => (r.ok ? r.value : r.error.message)),
      Array.from({ length: 200 }, (_, i) => i * 2),
    );

    // Fill the process's room with spinning guests; the next run waits in the host.
    const busy = Array.from({ length: RUNS_PER_PROCESS }, () =>
      runtime.run("while (true) {}", { limits: { timeoutMs: 3000, maxInstructions: -1, cpuTimeMs: -1 } }),
    );
    const controller = new AbortController();
    const started = performance.now();
    const queued = runtime.run("'never ran'", { signal: controller.signal });
    setTimeout(() => controller.abort(), 100);
    const aborted = await queued;
    assert.equal(aborted.ok, false);
    assert.equal(!aborted.ok && aborted.error.name, "AbortedError");
    assert.ok(performance.now() - started < 2500, "the queued run was not kept waiting for the busy ones");
    for (const result of await Promise.all(busy))
      assert.equal(!result.ok && result.error.message, "execution timeout after 3000ms");
    // The room comes back: the next run goes through.
    const after = await runtime.run("'after'");
    assert.equal(after.ok && after.value, "after");
  } finally {
    await runtime.close();
  }
});
