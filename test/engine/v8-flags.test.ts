// The V8 sandbox processes refuse to run guests without the flags that turn off memory the
// isolate's limit cannot see (src/engine/v8/flags.ts), and start with core dumps off (engine.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
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

test(
  "sandbox processes cannot dump core: a fatal V8 error aborts one, which a guest can provoke at will",
  { skip: process.platform !== "linux" },
  (t) => {
    // Started from a process that may dump core, as a server under a raised limit would be.
    const hard = /^Max core file size\s+\S+\s+(\S+)/m.exec(readFileSync("/proc/self/limits", "utf8"))?.[1];
    if (hard !== "unlimited") {
      t.skip(`core dumps cannot be turned on here (hard limit ${hard})`);
      return;
    }
    const fixture = fileURLToPath(new URL("../fixtures/sandbox-core-limit.ts", import.meta.url));
    const out = execFileSync(
      "/bin/sh",
      ["-c", 'ulimit -S -c unlimited && exec "$@"', "sh", process.execPath, "--import", "tsx", fixture],
      { encoding: "utf8" },
    );
    const { own, sandboxes } = JSON.parse(out) as { own: string; sandboxes: string[] };
    assert.match(own, /^Max core file size\s+unlimited/, "the starting process may dump core");
    assert.equal(sandboxes.length, 1, "one sandbox process");
    assert.match(sandboxes[0]!, /^Max core file size\s+0\s+0\s+bytes/);
  },
);
