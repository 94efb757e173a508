/**
 * Raw engines with the platform layer installed, for the platform tests and
 * measurements: plain quickjs-emscripten in this process, plain isolated-vm in
 * a child process (isolated-vm needs --no-node-snapshot, which the test
 * runner's process does not have; see v8-child.ts).
 *
 * A job is the body of an async function; its result is JSON-serialised inside
 * the engine. Both runners answer with {@link Outcome}.
 */
import { fork, type ChildProcess } from "node:child_process";
import {
  newQuickJSWASMModuleFromVariant,
  RELEASE_SYNC,
  type QuickJSContext,
  type QuickJSHandle,
  type QuickJSWASMModule,
} from "quickjs-emscripten";
import { nodePlatformHost, platformGroupSource, PLATFORM_LOADER_SOURCE } from "../../src/platform/index.js";

/** JSON of what the job returned, or how it failed. */
export type Outcome = { ok: true; json: string } | { ok: false; error: string };

/** Runs jobs, each in a fresh context. */
export interface Runner {
  run(body: string): Promise<Outcome>;
  close(): Promise<void>;
}

/** Wraps a job body: awaits it and serialises the result (or the error's name and message). */
export function wrapJob(body: string): string {
  return `(async () => { ${body}\n})().then(
  (value) => { const json = JSON.stringify(value); return json === undefined ? "undefined" : json; },
  (error) => "!" + (error && error.name) + ": " + (error && error.message))`;
}

function toOutcome(text: string): Outcome {
  return text.startsWith("!") ? { ok: false, error: text.slice(1) } : { ok: true, json: text };
}

let quickjsModule: Promise<QuickJSWASMModule> | undefined;

/** The QuickJS runner: a fresh runtime and context per job, the layer installed, pending jobs run until settled. */
export async function quickjsRunner(): Promise<Runner> {
  quickjsModule ??= newQuickJSWASMModuleFromVariant(RELEASE_SYNC);
  const quickjs = await quickjsModule;
  return {
    async run(body) {
      const runtime = quickjs.newRuntime();
      runtime.setMaxStackSize(1024 * 1024);
      const context = runtime.newContext();
      const handles: QuickJSHandle[] = [];
      const keep = (handle: QuickJSHandle) => (handles.push(handle), handle);
      try {
        installQuickJS(context, keep);
        const evaluated = context.evalCode(wrapJob(body), "job.js");
        if (evaluated.error)
          return { ok: false, error: `eval: ${JSON.stringify(context.dump(keep(evaluated.error)))}` };
        const promise = keep(evaluated.value);
        for (;;) {
          const state = context.getPromiseState(promise);
          if (state.type === "fulfilled") return toOutcome(context.getString(keep(state.value)));
          if (state.type === "rejected") return { ok: false, error: JSON.stringify(context.dump(keep(state.error))) };
          if (!runtime.hasPendingJob()) return { ok: false, error: "never settled" };
          const jobs = runtime.executePendingJobs();
          if (jobs.error) keep(jobs.error);
        }
      } finally {
        for (const handle of handles.reverse()) if (handle.alive) handle.dispose();
        context.dispose();
        runtime.dispose();
      }
    },
    async close() {},
  };
}

/**
 * Installs the layer in a QuickJS context: host functions as QuickJS
 * functions, `evaluate` the context's own indirect eval, `source` a host
 * function. This is the pattern a QuickJS sandbox can follow.
 */
export function installQuickJS(context: QuickJSContext, keep: (handle: QuickJSHandle) => QuickJSHandle): void {
  const host = nodePlatformHost();
  const hostObject = keep(context.newObject());
  context.setProp(
    hostObject,
    "randomBytes",
    keep(context.newFunction("randomBytes", (n) => context.newString(host.randomBytes(context.getNumber(n))))),
  );
  context.setProp(
    hostObject,
    "digest",
    keep(
      context.newFunction("digest", (algorithm, data) =>
        context.newString(host.digest(context.getString(algorithm), context.getString(data))),
      ),
    ),
  );
  context.setProp(hostObject, "now", keep(context.newFunction("now", () => context.newNumber(host.now()))));
  const source = keep(
    context.newFunction("source", (name) => context.newString(platformGroupSource(context.getString(name)))),
  );
  const install = keep(context.unwrapResult(context.evalCode(PLATFORM_LOADER_SOURCE, "platform-loader.js")));
  const evaluate = keep(context.unwrapResult(context.evalCode("(0, eval)", "eval.js")));
  keep(
    context.unwrapResult(
      context.callFunction(install, context.undefined, context.global, hostObject, evaluate, source),
    ),
  );
}

/** The isolated-vm runner: jobs go to a child process (v8-child.ts) one at a time. */
export function v8Runner(): Runner {
  const child: ChildProcess = fork(new URL("./v8-child.ts", import.meta.url), [], {
    execArgv: ["--no-node-snapshot", "--import", "tsx"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const pending = new Map<number, (outcome: Outcome) => void>();
  let next = 1;
  child.on("message", (message: { id: number; outcome: Outcome }) => {
    pending.get(message.id)?.(message.outcome);
    pending.delete(message.id);
  });
  child.on("exit", (code) => {
    for (const settle of pending.values()) settle({ ok: false, error: `child exited (${code})` });
    pending.clear();
  });
  return {
    run(body) {
      const id = next++;
      return new Promise((resolve) => {
        pending.set(id, resolve);
        child.send({ id, body });
      });
    },
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.disconnect();
      await exited;
    },
  };
}

/** Node itself, with its own globals: the reference. */
export function nodeRunner(): Runner {
  return {
    async run(body) {
      // Indirect eval: the job sees Node's globals only (no module scope).
      const text = (await (0, eval)(wrapJob(body))) as string;
      return toOutcome(text);
    },
    async close() {},
  };
}
