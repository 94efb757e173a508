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
import { AbortedError, EngineError, LimitExceededError, type LimitKind } from "../../errors/index.js";
import { countsCalls, emptyUsage, type EngineRunOutcome, type RunReporter } from "../contract.js";
import {
  failedOutcome,
  outcomeToWire,
  type CallMessage,
  type HostMessage,
  type HostReplyMessage,
  type LoadMessage,
  type RunMessage,
  type SandboxMessage,
  type WireOutcome,
} from "../protocol.js";
import { assertSandboxFlags } from "./flags.js";
import { WarmIsolate } from "./instance.js";
import { IsolateRunner } from "./isolate-runner.js";
import { SyncWatchdog } from "./sync-watchdog.js";
import { RUNS_PER_PROCESS } from "./wire.js";

// Never run guests with memory the isolate's limit cannot see: without the flags, fail to start.
assertSandboxFlags();
// As many warm isolates per memory limit as the host gives this process runs at a time (wire.ts).
const engine = new IsolateRunner({ idleIsolates: RUNS_PER_PROCESS });
/** Enforces the budgets of warm instances' synchronous calls (instance.ts), made on first load. */
let syncWatchdog: SyncWatchdog | undefined;
const aborts = new Map<number, AbortController>();
let retired = false;

function send(message: SandboxMessage): void {
  process.send?.(message);
}

/**
 * Answers one message that runs guest code (a run, a load or a call) with its
 * outcome, the run's console lines and warnings tagged with its id on the way.
 */
async function answer(
  id: number,
  work: (reporter: RunReporter, signal: AbortSignal) => Promise<EngineRunOutcome>,
): Promise<void> {
  const controller = new AbortController();
  aborts.set(id, controller);
  let outcome: WireOutcome;
  try {
    outcome = outcomeToWire(
      await work(
        {
          onConsole: (level, text) => send({ type: "console", id, level, text }),
          onWarning: (budget, fraction) => send({ type: "warning", id, budget, fraction }),
          onHostCall: (name, args, signal) => askHost(id, name, args, signal),
        },
        controller.signal,
      ),
    );
  } catch (error) {
    outcome = failedOutcome(error, emptyUsage());
  }
  try {
    send({ type: "result", id, ...outcome });
  } finally {
    aborts.delete(id);
    if (!retired && abandonedIsolateCount() > 0) {
      retired = true;
      send({ type: "retire" });
    }
  }
}

function run(message: RunMessage): Promise<void> {
  return answer(message.id, (reporter, signal) =>
    engine.run({
      ...reporter,
      // Calls and loops are counted only if the run's limits need it (a load always counts them).
      prepared: prepareSource(message.source, message.filename, countsCalls(message.limits)),
      source: message.source,
      filename: message.filename,
      limits: message.limits,
      inputJson: message.inputJson,
      signal,
    }),
  );
}

/** Host calls sent to the host and not yet answered, by run id and call id. */
const hostCalls = new Map<string, { resolve(text: string): void; reject(error: Error): void }>();
let nextHostCall = 1;

/** Forwards a guest's host call to the host process; its answer settles the promise. */
function askHost(id: number, name: string, args: string, signal: AbortSignal): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const call = nextHostCall++;
    const key = `${id}:${call}`;
    const onAbort = () => {
      hostCalls.delete(key);
      reject(new AbortedError("the run ended"));
    };
    hostCalls.set(key, {
      resolve: (text) => {
        signal.removeEventListener("abort", onAbort);
        resolve(text);
      },
      reject: (error) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    });
    signal.addEventListener("abort", onAbort, { once: true });
    send({ type: "hostcall", id, call, name, args });
  });
}

/** The host answered a host call: back to the guest as the host said (a limit stays a limit). */
function hostReplied(message: HostReplyMessage): void {
  const key = `${message.id}:${message.call}`;
  const pending = hostCalls.get(key);
  if (!pending) return;
  hostCalls.delete(key);
  if (message.outcome === "ok") pending.resolve(message.text);
  else if (message.outcome === "error") {
    const { name, message: text, code } = JSON.parse(message.text) as { name: string; message: string; code?: string };
    pending.reject(Object.assign(new Error(text), { name, ...(code === undefined ? {} : { code }) }));
  } else {
    const [kind, limit, observed] = JSON.parse(message.text) as [LimitKind, number, number];
    pending.reject(new LimitExceededError({ kind, limit, ...(observed >= 0 ? { observed } : {}) }));
  }
}

/** Warm instances of this process, by the id of the message that loaded them. */
const instances = new Map<number, WarmIsolate>();

function load(message: LoadMessage): Promise<void> {
  return answer(message.id, async (reporter, signal) => {
    const prepared = prepareSource(message.source, message.filename);
    syncWatchdog ??= new SyncWatchdog();
    const { outcome, instance } = await WarmIsolate.load({
      ...reporter,
      prepared,
      limits: message.limits,
      signal,
      syncWatchdog,
    });
    if (instance) instances.set(message.id, instance);
    return outcome;
  });
}

function call(message: CallMessage): Promise<void> {
  return answer(message.id, async (reporter, signal) => {
    const instance = instances.get(message.instance);
    if (!instance?.alive) throw new EngineError("the warm instance is gone (it was recycled or unloaded)");
    const outcome = await instance.call({ ...reporter, ...message, signal });
    if (!instance.alive) unload(message.instance);
    return outcome;
  });
}

function unload(id: number): void {
  instances.get(id)?.dispose();
  instances.delete(id);
}

process.on("message", (message: HostMessage) => {
  switch (message.type) {
    case "run":
      return void run(message);
    case "load":
      return void load(message);
    case "call":
      return void call(message);
    case "unload":
      return unload(message.instance);
    case "abort":
      return aborts.get(message.id)?.abort();
    case "hostreply":
      return hostReplied(message);
  }
});
// The host going away ends this process.
process.on("disconnect", () => process.kill(process.pid, "SIGKILL"));
// Exiting any other way (an error of this process's own), the watchdog's loop must stop first.
process.on("exit", () => syncWatchdog?.stopForExit());
send({ type: "ready" });
