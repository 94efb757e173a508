// The V8 sandbox processes refuse to run guests without the flags that turn off memory the
// isolate's limit cannot see (src/engine/v8/flags.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import { SANDBOX_V8_FLAGS, assertSandboxFlags } from "../../src/engine/v8/flags.js";

test("a sandbox process without the V8 flags refuses to start, naming the missing ones", () => {
  assert.throws(() => assertSandboxFlags(["--no-node-snapshot"]), {
    message: `a V8 sandbox process needs the V8 flags ${SANDBOX_V8_FLAGS.join(" ")}`,
  });
  const [first, ...rest] = SANDBOX_V8_FLAGS;
  assert.throws(() => assertSandboxFlags(["--no-node-snapshot", first!]), {
    message: `a V8 sandbox process needs the V8 flags ${rest.join(" ")}`,
  });
  assert.doesNotThrow(() => assertSandboxFlags(["--no-node-snapshot", ...SANDBOX_V8_FLAGS]));
});
