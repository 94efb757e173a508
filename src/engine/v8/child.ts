/**
 * Entry point of a V8 sandbox process. It runs guests on isolated-vm isolates
 * (started with --no-node-snapshot by the host) and talks to the host over the
 * IPC channel. A fatal V8 out-of-memory in one isolate parks one of
 * isolated-vm's threads for good and leaves this process unable to run or exit
 * reliably, so the process then retires: it answers the runs it has and the
 * host ends it and starts a fresh one.
 */
import { prepareSource } from "../../transform/index.js";
import { abandonedIsolateCount } from "../abandoned.js";
import { emptyUsage } from "../contract.js";
import {
  failedOutcome,
  outcomeToWire,
  type HostMessage,
  type RunMessage,
  type SandboxMessage,
  type WireOutcome,
} from "../protocol.js";
import { assertSandboxFlags } from "./flags.js";
import { IsolateRunner } from "./isolate-runner.js";
import { RUNS_PER_PROCESS } from "./wire.js";

// Never run guests with memory the isolate's limit cannot see: without the flags, fail to start.
assertSandboxFlags();
// As many warm isolates per memory limit as the host gives this process runs at a time (wire.ts).
const engine = new IsolateRunner({ idleIsolates: RUNS_PER_PROCESS });
const aborts = new Map<number, AbortController>();
let retired = false;

function send(message: SandboxMessage): void {
  process.send?.(message);
}

async function run(message: RunMessage): Promise<void> {
  const controller = new AbortController();
  aborts.set(message.id, controller);
  let outcome: WireOutcome;
  try {
    const prepared = prepareSource(message.source, message.filename);
    outcome = outcomeToWire(
      await engine.run({
        prepared,
        source: message.source,
        filename: message.filename,
        limits: message.limits,
        inputJson: message.inputJson,
        signal: controller.signal,
        onConsole: (level, text) => send({ type: "console", id: message.id, level, text }),
        onWarning: (budget, fraction) => send({ type: "warning", id: message.id, budget, fraction }),
      }),
    );
  } catch (error) {
    outcome = failedOutcome(error, emptyUsage());
  }
  try {
    send({ type: "result", id: message.id, ...outcome });
  } finally {
    aborts.delete(message.id);
    if (!retired && abandonedIsolateCount() > 0) {
      retired = true;
      send({ type: "retire" });
    }
  }
}

process.on("message", (message: HostMessage) => {
  if (message.type === "run") void run(message);
  else if (message.type === "abort") aborts.get(message.id)?.abort();
});
// The host going away ends this process.
process.on("disconnect", () => process.kill(process.pid, "SIGKILL"));
send({ type: "ready" });
