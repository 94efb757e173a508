/**
 * Entry point of a QuickJS worker thread. It instantiates the QuickJS
 * WebAssembly module, then runs one guest at a time for the main thread.
 * Guest code runs synchronously here, so the main thread's event loop never
 * waits for it. If the host side of a run fails (V8's own stack overflows
 * under a deep native recursion, the WebAssembly module traps), the module
 * instance may be damaged: the run is answered, the instance is dropped and
 * a fresh one takes its place. Only when no instance can be made does the
 * worker report a fatal error and exit (the engine then starts a new one).
 */
import { parentPort, workerData } from "node:worker_threads";
import { openThreadCpuClock } from "./cpu-clock.js";
import type { HostMessage, SandboxMessage } from "../protocol.js";
import { controlBlock, type WorkerStartData } from "./protocol.js";
import { prepareSource, type PreparedSource } from "../../transform/index.js";
import { runMessage } from "./run.js";
import { SandboxHost } from "./sandbox.js";

const port = parentPort;
if (!port) throw new Error("the QuickJS worker must run in a worker thread");

const data = workerData as WorkerStartData;
const post = (message: SandboxMessage) => port.postMessage(message);
const control = controlBlock(data.control);
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
  host = await SandboxHost.create(
    data.wasmModule,
    clock,
    control,
    data.maxStackBytes,
    {
      log: (id, level, text) => post({ type: "console", id, level, text }),
      warn: (id, budget, fraction) => post({ type: "warning", id, budget, fraction }),
      hostCall: (id, call, name, args) => post({ type: "hostcall", id, call, name, args }),
    },
    data.replies,
  );
} catch (error) {
  fail(undefined, error);
}

let queue = Promise.resolve();
// The prepared source of the warm instance this worker loaded, if any (a worker that loads one serves only it).
let loaded: PreparedSource | undefined;

port.on("message", (message: HostMessage) => {
  // Aborts come through the control block: this thread is busy with the guest when one matters.
  // A worker's instance is unloaded by ending the worker.
  if (message.type === "abort" || message.type === "unload" || message.type === "hostreply") return;
  queue = queue.then(async () => {
    if (message.type === "load") {
      try {
        loaded = prepareSource(message.source, message.filename); // cached: the run below prepares it again for free
      } catch {
        loaded = undefined; // the load's own answer reports the error
      }
    }
    const { outcome, crashed } = runMessage(host, message, () => loaded);
    if ("stalled" in outcome) post({ type: "stalled", id: message.id, usage: outcome.usage });
    else post({ type: "result", id: message.id, ...outcome });
    try {
      // After a crash the module instance may be damaged: drop it.
      if (crashed) await host.recover();
      else await host.afterRun();
    } catch (error) {
      fail(undefined, error);
    }
  });
});
post({ type: "ready" });
