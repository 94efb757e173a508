import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { dirWith, runCli } from "../helpers/cli.js";

test("warden run: spawn() runs modules of the script's own directory, never outside it", () => {
  const dir = dirWith({
    "main.mjs": `export default async () => [await spawn("./lib/double.mjs", 21), await spawn("../secret.mjs").catch((e) => e.message)]`,
  });
  mkdirSync(join(dir, "lib"));
  writeFileSync(join(dir, "lib", "double.mjs"), "export default (x) => x * 2");
  const result = runCli(["run", "main.mjs"], { cwd: dir });
  assert.equal(result.status, 0, result.stderr);
  assert.deepEqual(JSON.parse(result.stdout), [42, 'spawn: "../secret.mjs" may not go up a directory (..)']);
});

test("warden run --datastore sqlite:…: what a run stores, the next run reads", () => {
  const dir = dirWith({
    "count.mjs": `export default async () => datastore("counter").increment("runs")`,
  });
  for (const expected of ["1", "2"]) {
    const result = runCli(["run", "count.mjs", "--datastore", "sqlite:./data.db"], { cwd: dir });
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stdout.trim(), expected);
  }
  const bad = runCli(["run", "count.mjs", "--datastore", "postgres://x"], { cwd: dir });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--datastore/);
  assert.match(bad.stderr, /postgres:\/\/x/);
});

test("warden run --allow-fetch: bad origins are usage errors naming the flag; fetch is off without it", () => {
  const dir = dirWith({ "f.mjs": `export default () => fetch("http://127.0.0.1:9/").catch((e) => e.message)` });
  const bad = runCli(["run", "f.mjs", "--allow-fetch", "https://x.com/path"], { cwd: dir });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--allow-fetch/);
  const off = runCli(["run", "f.mjs"], { cwd: dir });
  assert.equal(off.status, 0, off.stderr);
  assert.match(off.stdout, /fetch\(\) is off in this sandbox/);
});
