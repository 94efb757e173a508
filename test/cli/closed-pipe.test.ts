// Output into a pipe whose reader has gone away (`warden ... | head -1`) must
// never crash the CLI with an EPIPE stack trace.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { closeSync, existsSync, openSync } from "node:fs";
import { cleanEnv, dirWith, WARDEN_BIN } from "../helpers/cli.js";

/** What a CLI run left behind when some of its output pipes were closed early. */
interface ClosedPipeResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

/**
 * Runs the real CLI with its stdout (and, with `closeStderr`, its stderr) on a
 * pipe whose reading end is closed at once, before the CLI writes anything, or,
 * with `readFirst`, right after the first chunk arrives (as `head -c 1` does).
 */
async function runClosed(
  args: string[],
  options: { cwd?: string; closeStderr?: boolean; readFirst?: boolean; input?: string } = {},
): Promise<ClosedPipeResult> {
  const child = spawn(process.execPath, [WARDEN_BIN, ...args], {
    cwd: options.cwd ?? dirWith({}),
    env: cleanEnv(),
    stdio: [options.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
  });
  if (options.input !== undefined) child.stdin!.end(options.input);
  if (options.readFirst) child.stdout!.once("data", () => child.stdout!.destroy());
  else child.stdout!.destroy();
  let stderr = "";
  if (options.closeStderr) child.stderr!.destroy();
  else child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  const [status, signal] = (await once(child, "close")) as [number | null, NodeJS.Signals | null];
  clearTimeout(timer);
  return { status, signal, stderr };
}

function assertNoCrash(result: ClosedPipeResult, what: string): void {
  assert.equal(result.signal, null, `${what}: killed by ${result.signal}`);
  assert.doesNotMatch(result.stderr, /EPIPE/, `${what}: ${result.stderr}`);
  assert.doesNotMatch(result.stderr, /Unhandled 'error' event|node:events|internal error/, `${what}: ${result.stderr}`);
  assert.doesNotMatch(result.stderr, /^\s+at /m, `${what}: a stack trace on stderr: ${result.stderr}`);
}

const files = {
  // Far more output than a pipe buffer holds, so writes go on after the reader left.
  "big.js": "Array.from({ length: 20000 }, (_, i) => 'line ' + i)",
  "chatty.js": "for (let i = 0; i < 2000; i++) console.log('console line ' + i); 42",
  "loop.js": "while (true) {}",
};

test("closed stdout: --help, limits, limits --json and run exit with their own code and no stack trace", async () => {
  const cwd = dirWith(files);
  for (const [args, status] of [
    [["--help"], 0],
    [["run", "--help"], 0],
    [["--version"], 0],
    [["limits"], 0],
    [["limits", "--json"], 0],
    [["run", "big.js"], 0],
    [["run", "big.js", "--json"], 0],
    [["run", "loop.js", "--max-instructions", "1000"], 3],
  ] as const) {
    const result = await runClosed([...args], { cwd });
    assertNoCrash(result, args.join(" "));
    assert.equal(result.status, status, `${args.join(" ")}: ${result.stderr}`);
  }
  // Standard error still works when only standard output is gone.
  const limit = await runClosed(["run", "loop.js", "--max-instructions", "1000"], { cwd });
  assert.match(limit.stderr, /instruction limit exceeded \(1000\)/);
});

test("a reader that leaves after the first chunk (head -c 1) does not crash a run", async () => {
  const cwd = dirWith(files);
  for (const args of [["run", "big.js"], ["limits"], ["--help"]]) {
    const result = await runClosed(args, { cwd, readFirst: true });
    assertNoCrash(result, args.join(" "));
    assert.equal(result.status, 0, `${args.join(" ")}: ${result.stderr}`);
  }
});

test("closed stdout and stderr: console output, limit errors and usage errors keep their exit codes", async () => {
  const cwd = dirWith(files);
  for (const [args, status] of [
    [["run", "chatty.js"], 0],
    [["run", "loop.js", "--max-instructions", "1000"], 3],
    [["limits", "--timeout", "soon"], 2],
    [["run"], 2],
    [["--frobnicate"], 2],
  ] as const) {
    // A crash from an unhandled 'error' event would exit 1 (or 7), not the command's code.
    const result = await runClosed([...args], { cwd, closeStderr: true });
    assert.equal(result.signal, null, `${args.join(" ")}: killed by ${result.signal}`);
    assert.equal(result.status, status, args.join(" "));
  }
});

test("through a shell pipeline into head: no stack trace, the first line arrives", () => {
  const cwd = dirWith(files);
  const warden = `"${process.execPath}" "${WARDEN_BIN}"`;
  for (const [pipeline, first] of [
    [`${warden} --help | head -1`, /^Usage: warden/],
    [`${warden} limits | head -1`, /^profile: normal/],
    [`${warden} run big.js | head -c 1`, /^\[/],
    [`echo '"x".repeat(300000)' | ${warden} run - | head -c 1`, /^"/],
  ] as const) {
    const result = spawnSync("sh", ["-c", pipeline], { cwd, env: cleanEnv(), encoding: "utf8", timeout: 60_000 });
    assert.equal(result.status, 0, `${pipeline}: ${result.stderr}`);
    assert.match(result.stdout, first, pipeline);
    assertNoCrash({ status: result.status, signal: result.signal, stderr: result.stderr }, pipeline);
  }
});

test(
  "any other failure to write stdout (a full disk) is one line on stderr and exit 70",
  { skip: !existsSync("/dev/full") },
  () => {
    const cwd = dirWith(files);
    const full = openSync("/dev/full", "w");
    try {
      for (const args of [["limits"], ["--help"], ["run", "big.js"]]) {
        const result = spawnSync(process.execPath, [WARDEN_BIN, ...args], {
          cwd,
          env: cleanEnv(),
          stdio: ["ignore", full, "pipe"],
          encoding: "utf8",
          timeout: 60_000,
        });
        assert.equal(result.status, 70, `${args.join(" ")}: ${result.stderr}`);
        assert.equal(
          result.stderr,
          "warden: cannot write to standard output: ENOSPC: no space left on device, write\n",
        );
      }
    } finally {
      closeSync(full);
    }
  },
);
