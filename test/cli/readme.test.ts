// The README's library example runs as written.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dirname, "../..");

test("the README library example runs and prints the documented result", () => {
  const readme = readFileSync(join(root, "README.md"), "utf8");
  const library = readme.slice(readme.indexOf("## Library"));
  const snippet = /```ts\n([\s\S]*?)```/.exec(library)?.[1];
  assert.ok(snippet, "the Library section has a ts example");
  // Inside the package directory, `import ... from "warden"` resolves to the package itself.
  const file = join(root, `.readme-example-${process.pid}.mjs`);
  writeFileSync(file, snippet);
  try {
    const result = spawnSync(process.execPath, ["--no-node-snapshot", file], {
      encoding: "utf8",
      cwd: root,
      timeout: 60_000,
    });
    assert.equal(result.status, 0, result.stderr);
    assert.match(
      result.stdout.replace(/\s+/g, " "),
      /^3 \{ wallMs: [\d.]+, cpuMs: [\d.]+, instructions: 1, peakMemoryBytes: \d+ \}/,
    );
  } finally {
    rmSync(file, { force: true });
  }
});
