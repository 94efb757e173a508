/**
 * Entry point of a QuickJS worker thread. It loads the QuickJS WebAssembly
 * module once, then runs one guest at a time for the main thread. Guest code
 * runs synchronously here, so the main thread's event loop never waits for
 * it. If the host side of a run fails (V8's own stack overflows under a deep
 * native recursion, the WebAssembly module traps), the module may be
 * damaged: the worker reports the failure and exits, and the engine starts a
 * new one.
 */
import { parentPort, workerData } from "node:worker_threads";
import { openThreadCpuClock } from "./cpu-clock.js";
import type { ParentMessage, WorkerMessage, WorkerStartData } from "./protocol.js";
import { SandboxHost } from "./sandbox.js";

const port = parentPort;
if (!port) throw new Error("the QuickJS worker must run in a worker thread");

const data = workerData as WorkerStartData;
const post = (message: WorkerMessage) => port.postMessage(message);
const clock = openThreadCpuClock();

function fail(id: number | undefined, error: unknown): never {
  const failure = error instanceof Error ? error : new Error(String(error));
  try {
    post({ type: "fatal", id, name: failure.name, message: failure.message });
  } finally {
    // Nothing of this module can be trusted any more; the main thread replaces the worker.
    process.exit(1);
  }
}

let host: SandboxHost;
try {
  host = await SandboxHost.create(data.wasmModule, clock, new Float64Array(data.control), data.maxStackBytes, {
    log: (id, level, text) => post({ type: "log", id, level, text }),
    warn: (id, budget, fraction) => post({ type: "warn", id, budget, fraction }),
  });
} catch (error) {
  fail(undefined, error);
}

let queue = Promise.resolve();
port.on("message", (message: ParentMessage) => {
  queue = queue.then(async () => {
    if (message.type !== "run") return;
    try {
      const { result, usage } = host.run(message);
      post({ type: "done", id: message.id, result, usage });
      await host.afterRun();
    } catch (error) {
      fail(message.id, error);
    }
  });
});
post({ type: "ready" });
