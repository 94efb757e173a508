/**
 * A worker thread that runs corpus programs on plain quickjs-emscripten (the
 * same release-sync variant Warden uses): a fresh runtime and context per
 * program, no instrumentation, no prelude. Like Warden's QuickJS workers, it
 * has a 256 MiB V8 stack and gives QuickJS a 4 MiB stack limit.
 */
import { parentPort } from "node:worker_threads";
import { newQuickJSWASMModuleFromVariant, RELEASE_SYNC, type QuickJSHandle } from "quickjs-emscripten";
import { platformHostFunction } from "../../src/engine/platform-host.js";
import { FINISH_SOURCE, SETUP_SOURCE, type RawAnswer, type RawJob, type RawOutcome } from "./raw-protocol.js";

const port = parentPort;
if (!port) throw new Error("raw-quickjs-worker must run in a worker thread");
const quickjs = await newQuickJSWASMModuleFromVariant(RELEASE_SYNC);

function describe(dumped: unknown): RawOutcome {
  const e = dumped as { name?: unknown; message?: unknown } | null;
  if (e && typeof e === "object" && "message" in e)
    return { ok: false, name: String(e.name), message: String(e.message) };
  return { ok: false, name: "thrown", message: JSON.stringify(dumped) };
}

function run(job: RawJob): RawOutcome {
  const runtime = quickjs.newRuntime();
  runtime.setMaxStackSize(4 * 1024 * 1024);
  const context = runtime.newContext();
  const handles: QuickJSHandle[] = [];
  const keep = (handle: QuickJSHandle) => (handles.push(handle), handle);
  try {
    context.setProp(context.global, "corpusInputJson", keep(context.newString(job.inputJson)));
    const platform = platformHostFunction();
    const platformFunction = keep(
      context.newFunction("corpusPlatform", (op, a, b) =>
        context.newString(
          platform(
            context.dump(op),
            a === undefined ? undefined : context.dump(a),
            b === undefined ? undefined : context.dump(b),
          ),
        ),
      ),
    );
    context.setProp(context.global, "corpusPlatform", platformFunction);
    const setup = context.evalCode(SETUP_SOURCE, "setup.js");
    if (setup.error) return describe(context.dump(keep(setup.error)));
    keep(setup.value);
    const finish = keep(context.unwrapResult(context.evalCode(FINISH_SOURCE, "finish.js")));
    const evaluated = context.evalCode(job.source, job.filename, { type: job.kind === "module" ? "module" : "global" });
    if (evaluated.error) return describe(context.dump(keep(evaluated.error)));
    const value = keep(evaluated.value);
    const called = context.callFunction(
      finish,
      context.undefined,
      value,
      job.kind === "module" ? context.true : context.false,
    );
    if (called.error) return describe(context.dump(keep(called.error)));
    const promise = keep(called.value);
    for (;;) {
      const state = context.getPromiseState(promise);
      if (state.type === "fulfilled") return { ok: true, json: context.getString(keep(state.value)) };
      if (state.type === "rejected") return describe(context.dump(keep(state.error)));
      if (!runtime.hasPendingJob()) return { ok: false, name: "Pending", message: "the result never settled" };
      const jobs = runtime.executePendingJobs();
      if (jobs.error) return describe(context.dump(keep(jobs.error)));
    }
  } finally {
    for (const handle of handles.reverse()) if (handle.alive) handle.dispose();
    context.dispose();
    runtime.dispose();
  }
}

port.on("message", (job: RawJob) => {
  let outcome: RawOutcome;
  try {
    outcome = run(job);
  } catch (error) {
    outcome = { ok: false, name: "HostError", message: String((error as Error)?.message ?? error) };
  }
  port.postMessage({ id: job.id, outcome } satisfies RawAnswer);
});
port.postMessage({ ready: true });
