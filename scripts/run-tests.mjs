// Runs every test/**/*.test.ts file with Node's test runner. Node 20's runner
// does not glob TypeScript files itself, so the list is built here.
// Usage: node scripts/run-tests.mjs [filter...]  (filters match file paths)
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";

const filters = process.argv.slice(2);
const files = readdirSync("test", { recursive: true })
  .map((name) => join("test", String(name)))
  .filter((path) => path.endsWith(".test.ts"))
  .filter((path) => filters.length === 0 || filters.some((f) => path.includes(f)))
  .sort();

if (files.length === 0) {
  console.error(`no test files match ${filters.join(" ")}`);
  process.exit(1);
}

// No --no-node-snapshot here: the host never loads isolated-vm (V8 sandboxes are child processes).
const result = spawnSync(
  process.execPath,
  ["--import", "tsx", "--test", "--test-reporter=spec", "--test-concurrency=2", ...files],
  { stdio: "inherit" },
);
process.exit(result.status ?? 1);
