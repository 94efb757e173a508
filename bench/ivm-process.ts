/**
 * The floor of any design that keeps V8 isolates out of the host process: raw
 * isolated-vm in a child process, a warm context and a function Reference in
 * it, one `process.send` each way per call and nothing else (no limits, no
 * watchdog, no accounting). Warden's V8 engine pays this boundary so that a
 * fatal V8 out-of-memory can never take the host down; comparing it with this
 * peer shows what Warden adds on top of the boundary, and comparing this peer
 * with raw isolated-vm in the host shows what the boundary itself costs.
 *
 * Run as a script with the argument `child`, this file is the child's side.
 */
import { fork, type ChildProcess } from "node:child_process";
import type ivm from "isolated-vm";
import { fileURLToPath } from "node:url";

/** A call to the child, and its answer. */
interface CallMessage {
  id: number;
  x: unknown;
}
interface AnswerMessage {
  id: number;
  value: unknown;
}

/** Something that answers a warm call of the function the child was given. */
export interface ProcessCaller {
  call(x: unknown): Promise<unknown>;
  close(): Promise<void>;
}

/** The child's side: one isolate, one warm context, the function; answers each call message. */
async function serveChild(expression: string, memoryMb: number): Promise<void> {
  const { default: isolatedVm } = await import("isolated-vm");
  const isolate = new isolatedVm.Isolate({ memoryLimit: memoryMb });
  const context = isolate.createContextSync();
  const fn = context.evalSync(expression, { reference: true }) as ivm.Reference<(x: unknown) => unknown>;
  process.on("message", ({ id, x }: CallMessage) => {
    void fn
      .apply(undefined, [x], { arguments: { copy: true }, result: { copy: true } })
      .then((value) => process.send?.({ id, value } satisfies AnswerMessage));
  });
  process.on("disconnect", () => process.exit(0));
  process.send?.({ id: 0, value: 0 } satisfies AnswerMessage);
}

/** One child process and the calls it has not answered yet. */
interface Child {
  process: ChildProcess;
  pending: Map<number, (value: unknown) => void>;
}

/** Starts `count` children, each with `expression` (a function of one copyable value) on a warm context. */
export async function rawIsolatedVmProcesses(
  count: number,
  expression: string,
  memoryMb: number,
): Promise<ProcessCaller> {
  let nextId = 1;
  const children: Child[] = await Promise.all(
    Array.from({ length: count }, async () => {
      const child = fork(fileURLToPath(import.meta.url), ["child", expression, String(memoryMb)], {
        execArgv: ["--no-node-snapshot", "--import", "tsx"],
        stdio: ["ignore", "inherit", "inherit", "ipc"],
      });
      await new Promise<void>((resolve, reject) => {
        child.once("error", reject);
        child.once("exit", (code) => reject(new Error(`the peer's child exited (${code}) before it was ready`)));
        child.once("message", () => resolve());
      });
      child.removeAllListeners("exit");
      const pending = new Map<number, (value: unknown) => void>();
      child.on("message", ({ id, value }: AnswerMessage) => {
        pending.get(id)?.(value);
        pending.delete(id);
      });
      return { process: child, pending };
    }),
  );
  return {
    call(x) {
      let target = children[0]!;
      for (const candidate of children) if (candidate.pending.size < target.pending.size) target = candidate;
      const id = nextId++;
      return new Promise<unknown>((resolve) => {
        target.pending.set(id, resolve);
        target.process.send({ id, x } satisfies CallMessage);
      });
    },
    async close() {
      await Promise.all(
        children.map(
          ({ process: child }) =>
            new Promise<void>((resolve) => {
              if (child.exitCode !== null || child.signalCode !== null) return resolve();
              child.once("exit", () => resolve());
              child.disconnect();
            }),
        ),
      );
    },
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === "child") {
  await serveChild(process.argv[3]!, Number(process.argv[4]));
}
