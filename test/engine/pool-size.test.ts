// One rule for the pool size on both engines: a positive integer, or each engine's default.
import { test } from "node:test";
import assert from "node:assert/strict";
import { resolvePoolSize } from "../../src/engine/contract.js";
import { createRuntime } from "../../src/index.js";

test("pool size: the option when it is a positive integer, else each engine's default", () => {
  assert.equal(resolvePoolSize("v8", undefined, 8), 2);
  assert.equal(resolvePoolSize("v8", undefined, 1), 1);
  assert.equal(resolvePoolSize("quickjs", undefined, 8), 8);
  assert.equal(resolvePoolSize("v8", 3, 8), 3);
  for (const bad of [0, -1, 1.5, Number.NaN]) {
    for (const engine of ["v8", "quickjs"] as const) {
      assert.throws(() => resolvePoolSize(engine, bad, 8), {
        name: "RangeError",
        message: `poolSize must be a positive integer, got ${String(bad)} (number)`,
      });
    }
  }
});

test("both engines refuse a bad pool size the same way", async () => {
  for (const engine of ["v8", "quickjs"] as const) {
    await assert.rejects(createRuntime({ engine, poolSize: 0, env: {}, configFile: false }), {
      message: "poolSize must be a positive integer, got 0 (number)",
    });
  }
});
