// Warm instances are spread over the V8 sandbox processes: a fatal error in one process costs only
// the instances it hosts, and every process takes its share of the calls.
import assert from "node:assert/strict";
import { test } from "node:test";
import { createEngine, type EngineInstance, type RunReporter } from "../../src/engine/index.js";
import { resolveLimits } from "../../src/limits/index.js";

const quiet: RunReporter = { onConsole: () => {}, onWarning: () => {}, onHostCall: async () => "" };

// A counter per instance; "crash" doubles a string until one allocation is larger than the heap has
// left: a fatal V8 out-of-memory, which ends the sandbox process (test/conformance/hostile.test.ts).
const MODULE = `let calls = 0;
export default (input) => {
  if (input === "crash") { let s = "xxxxxxxxxxxxxxxx"; for (;;) { s = s + s; s.charCodeAt(s.length - 1); } }
  return ++calls;
};`;

test("instances loaded one after another land in different processes: a fatal error in one spares the others", async () => {
  const engine = await createEngine("v8", { poolSize: 2 });
  const limits = resolveLimits({
    env: {},
    configFile: false,
    options: { memoryBytes: "32MB", maxInstructions: -1, cpuTimeMs: "5s" },
  }).values;
  const instances: EngineInstance[] = [];
  try {
    for (let i = 0; i < 2; i++) {
      const loaded = await engine.load({ ...quiet, source: MODULE, filename: "counter.js", limits });
      assert.ok(loaded.ok, "the module loads");
      instances.push(loaded.instance);
    }
    const [a, b] = instances as [EngineInstance, EngineInstance];
    const call = (instance: EngineInstance, input: string) =>
      instance.call({ ...quiet, kind: "call", inputJson: JSON.stringify(input), limits });
    const value = async (instance: EngineInstance, input: string) => {
      const outcome = await call(instance, input);
      assert.ok(outcome.ok, `the call succeeds: ${outcome.ok ? "" : outcome.error.message}`);
      return JSON.parse(outcome.json) as unknown;
    };
    assert.equal(await value(a, "count"), 1);
    assert.equal(await value(b, "count"), 1);
    assert.equal(await value(b, "count"), 2);
    const crashed = await call(a, "crash");
    assert.equal(crashed.ok, false);
    assert.equal(a.alive, false, "the crashed instance is gone");
    // Had both been loaded into the same (first idle) process, b would have died with it.
    assert.equal(b.alive, true, "the other instance lives in another process");
    assert.equal(await value(b, "count"), 3, "and keeps its state");
  } finally {
    for (const instance of instances) await instance.close();
    await engine.close();
  }
});
