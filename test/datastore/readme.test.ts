// The datastore examples in the README and docs/datastore.md run as written.
import { afterEach, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { cleanUp, tempDir } from "./helpers.js";

afterEach(cleanUp);

const ROOT = resolve(import.meta.dirname, "../..");

/** Runs the first `ts` block after `heading` in `file`, importing "warden" from the sources; its stdout. */
function runExample(file: string, heading: string): string {
  const text = readFileSync(join(ROOT, file), "utf8");
  const snippet = /```ts\n([\s\S]*?)```/.exec(text.slice(text.indexOf(heading)))?.[1];
  assert.ok(snippet, `${file} has a ts example after ${heading}`);
  const dir = tempDir();
  const script = join(dir, "example.mts");
  writeFileSync(script, snippet.replace(`from "warden"`, `from ${JSON.stringify(join(ROOT, "src/index.ts"))}`));
  // The example runs in a temporary directory (its SQLite file goes there), so tsx is named by URL.
  const result = spawnSync(process.execPath, ["--import", import.meta.resolve("tsx"), script], {
    cwd: dir,
    encoding: "utf8",
    timeout: 60_000,
  });
  assert.equal(result.status, 0, result.stderr);
  return result.stdout;
}

test("the README datastore example prints what its comment says", () => {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  assert.match(readme, /await counters\.size\(\)\); \/\/ 42 1 21\n/);
  assert.equal(runExample("README.md", "## Datastore").trim(), "42 1 21");
});

test("the docs/datastore.md example runs on SQLite and reports the cap", () => {
  const out = runExample("docs/datastore.md", "# Datastore").replace(/\s+/g, " ").trim();
  assert.equal(out, "{ items: [ 'tea' ], total: 4.5 } [ 'order:1' ] 58 datastore size limit exceeded (10MB)");
});
