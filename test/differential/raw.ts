/**
 * Host side of the raw runners: the corpus programs on each engine without
 * Warden. V8 runs on plain isolated-vm in a child process started with
 * --no-node-snapshot (this process never loads isolated-vm); QuickJS runs on
 * plain quickjs-emscripten in a worker thread.
 */
import { fork, type ChildProcess } from "node:child_process";
import { Worker } from "node:worker_threads";
import type { EngineName } from "../../src/engine/index.js";
import type { SourceKind } from "./corpus.js";
import type { RawAnswer, RawJob, RawOutcome } from "./raw-protocol.js";

export interface RawRunner {
  run(source: string, options: { kind: SourceKind; filename: string; inputJson: string }): Promise<RawOutcome>;
  close(): Promise<void>;
}

interface Channel {
  send(job: RawJob): void;
  onMessage(listener: (message: RawAnswer | { ready: true }) => void): void;
  onExit(listener: (reason: string) => void): void;
  close(): Promise<void>;
}

function v8Channel(): Channel {
  const child: ChildProcess = fork(new URL("./raw-v8-child.ts", import.meta.url), [], {
    execArgv: ["--no-node-snapshot", "--import", "tsx"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  return {
    send: (job) => child.send(job),
    onMessage: (listener) => child.on("message", listener as never),
    onExit: (listener) => child.on("exit", (code, signal) => listener(`raw V8 child exited (${code ?? signal})`)),
    close: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.disconnect();
      await exited;
    },
  };
}

function quickjsChannel(): Channel {
  // Node 20 does not carry tsx's hooks into workers: register them first, then load the TypeScript entry.
  const entry = new URL("./raw-quickjs-worker.ts", import.meta.url).href;
  const tsx = import.meta.resolve("tsx/esm/api");
  const bootstrap = `import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(entry)}); });`;
  const worker = new Worker(bootstrap, { eval: true, resourceLimits: { stackSizeMb: 256 } });
  return {
    send: (job) => worker.postMessage(job),
    onMessage: (listener) => worker.on("message", listener),
    onExit: (listener) => {
      worker.on("error", (error) => listener(`raw QuickJS worker failed: ${error.message}`));
      worker.on("exit", (code) => listener(`raw QuickJS worker exited (${code})`));
    },
    close: async () => {
      await worker.terminate();
    },
  };
}

/** Starts a raw runner for an engine; jobs run one at a time, in order. */
export function startRawRunner(engine: EngineName): RawRunner {
  const channel = engine === "v8" ? v8Channel() : quickjsChannel();
  const pending = new Map<number, (outcome: RawOutcome) => void>();
  let nextId = 1;
  let gone: string | undefined;
  channel.onMessage((message) => {
    if ("id" in message) {
      pending.get(message.id)?.(message.outcome);
      pending.delete(message.id);
    }
  });
  channel.onExit((reason) => {
    gone ??= reason;
    for (const settle of pending.values()) settle({ ok: false, name: "RunnerExited", message: reason });
    pending.clear();
  });
  return {
    run(source, { kind, filename, inputJson }) {
      if (gone) return Promise.resolve({ ok: false, name: "RunnerExited", message: gone });
      const id = nextId++;
      return new Promise<RawOutcome>((resolve) => {
        pending.set(id, resolve);
        channel.send({ id, kind, filename, source, inputJson });
      });
    },
    close: () => channel.close(),
  };
}

/**
 * Both preparations of a run's code, as limits that select them: counted (calls and loops
 * counted, as under the default limits; here with a budget that never runs out) and uncounted (no
 * instruction budget and no depth limit: only the guards the other limits need).
 */
export const PREPARATION_MODES = [
  { mode: "counted", maxInstructions: Number.MAX_SAFE_INTEGER },
  { mode: "uncounted", maxInstructions: -1 },
] as const;
