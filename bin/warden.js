#!/usr/bin/env node
// Entry point of the `warden` command. isolated-vm on Node 20 must run in a
// process started with --no-node-snapshot (without it, creating an isolate
// crashes the process), so commands that run guests re-execute Node once with
// the flag; `--help` and `limits` start straight away.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const NEEDS_ISOLATES = new Set(["run", "serve"]);
const FLAG = "--no-node-snapshot";
const hasFlag = process.execArgv.includes(FLAG) || (process.env.NODE_OPTIONS ?? "").split(/\s+/).includes(FLAG);
const command = process.argv.slice(2).find((arg) => !arg.startsWith("-"));

if (!hasFlag && command !== undefined && NEEDS_ISOLATES.has(command)) {
  const child = spawnSync(
    process.execPath,
    [FLAG, ...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)],
    {
      stdio: "inherit",
    },
  );
  if (child.signal) process.kill(process.pid, child.signal);
  process.exit(child.status ?? 1);
} else {
  const { main } = await import("../dist/cli/main.js");
  const code = await main(process.argv.slice(2));
  // Exit explicitly once output is flushed: an isolate abandoned after a fatal
  // V8 out-of-memory (see docs/engines.md) would otherwise keep the process alive.
  process.stdout.write("", () => process.stderr.write("", () => process.exit(code)));
}
