// Everything a runtime starts (sandbox processes, worker threads, timers) is gone after close().
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { TEST_ENGINES, testRuntime, value } from "../helpers/runtime.js";

function resources(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const name of process.getActiveResourcesInfo()) counts.set(name, (counts.get(name) ?? 0) + 1);
  return counts;
}

/** This process's child processes, idle (unreferenced) ones included. */
function childProcesses(): string[] {
  try {
    return execFileSync("ps", ["-o", "pid=,args=", "--ppid", String(process.pid)], { encoding: "utf8" })
      .split("\n")
      .filter((line) => line.trim() !== "" && !line.includes("ps -o"));
  } catch {
    return []; // ps exits 1 when there are none
  }
}

function grown(before: Map<string, number>, after: Map<string, number>): string[] {
  return [...after]
    .filter(([name, count]) => count > (before.get(name) ?? 0))
    .map(([name, count]) => `${name} ${before.get(name) ?? 0} -> ${count}`);
}

for (const engine of TEST_ENGINES) {
  test(`a closed runtime leaves nothing running [${engine}]`, async () => {
    const before = resources();
    const childrenBefore = childProcesses();
    const runtime = await testRuntime(engine, { poolSize: 2 });
    const during = resources();
    await Promise.all([
      value(runtime, "1"),
      runtime.run("while (true) {}", { limits: { timeoutMs: 30, maxInstructions: -1 } }),
    ]);
    await runtime.close();
    // Handles closed by close() are released in a later turn of the event loop.
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual(grown(before, resources()), [], `still alive after close (while open: ${[...during].join(", ")})`);
    assert.deepEqual(childProcesses(), childrenBefore, "sandbox processes still running after close");
  });
}
