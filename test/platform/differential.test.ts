/**
 * The platform layer against Node: every snippet of cases.ts runs in Node
 * (its own globals), in raw QuickJS and in raw isolated-vm (child process),
 * the layer installed in each fresh context, and the JSON results must match.
 * The engine-only cases check the loader's behaviour against fixed results.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { PLATFORM_GLOBALS } from "../../src/platform/index.js";
import { CASES, HELPERS, engineCases } from "./cases.js";
import { nodeRunner, quickjsRunner, v8Runner, type Outcome, type Runner } from "./engines.js";

const show = (outcome: Outcome | undefined) =>
  outcome === undefined ? "(no result)" : outcome.ok ? outcome.json : `error: ${outcome.error}`;

describe("platform layer vs Node", { timeout: 120_000 }, () => {
  const engines: { name: "quickjs" | "v8"; runner?: Runner }[] = [{ name: "quickjs" }, { name: "v8" }];
  const node = nodeRunner();
  const expected = new Map<string, Outcome>();
  const actual = new Map<string, Outcome>();

  before(async () => {
    engines[0]!.runner = await quickjsRunner();
    engines[1]!.runner = v8Runner();
    for (const c of CASES) expected.set(c.name, await node.run(HELPERS + c.body));
    // Each engine works through all cases at once (the V8 child queues them).
    await Promise.all(
      engines.map(async ({ name, runner }) => {
        for (const c of CASES) actual.set(`${name} ${c.name}`, await runner!.run(HELPERS + c.body));
      }),
    );
  });

  after(async () => {
    for (const { runner } of engines) await runner?.close();
  });

  for (const c of CASES) {
    for (const engine of ["quickjs", "v8"] as const) {
      const reason = c.differs?.[engine];
      test(`${engine}: ${c.name}`, (t) => {
        const want = expected.get(c.name);
        const got = actual.get(`${engine} ${c.name}`);
        assert.ok(want?.ok, `Node itself failed: ${show(want)}`);
        assert.ok(got?.ok, `the engine failed: ${show(got)}`);
        if (reason !== undefined) {
          // A documented difference: it must still run; report it as a todo while it differs.
          if (got.json !== want.json) t.todo(reason);
          return;
        }
        assert.equal(got.json, want.json);
      });
    }
  }
});

describe("platform loader on the engines", { timeout: 60_000 }, () => {
  const cases = engineCases(Object.keys(PLATFORM_GLOBALS));
  const runners: Record<string, Runner> = {};

  before(async () => {
    runners["quickjs"] = await quickjsRunner();
    runners["v8"] = v8Runner();
  });

  after(async () => {
    for (const runner of Object.values(runners)) await runner.close();
  });

  for (const c of cases) {
    for (const engine of ["quickjs", "v8"]) {
      test(`${engine}: ${c.name}`, async () => {
        const outcome = await runners[engine]!.run(HELPERS + c.body);
        assert.ok(outcome.ok, show(outcome));
        assert.deepEqual(JSON.parse(outcome.json), c.expect);
      });
    }
  }
});
