/**
 * A child process (started with --no-node-snapshot) that runs corpus programs
 * on plain isolated-vm: a fresh context per program, no instrumentation, no
 * prelude; only the Web platform layer every sandbox has (see SETUP_SOURCE). Jobs come in over IPC, one at a time.
 */
import ivm from "isolated-vm";
import { platformHostFunction } from "../../src/engine/platform-host.js";
import { FINISH_SOURCE, SETUP_SOURCE, type RawAnswer, type RawJob, type RawOutcome } from "./raw-protocol.js";

const isolate = new ivm.Isolate({ memoryLimit: 4096 });

async function run(job: RawJob): Promise<RawOutcome> {
  const context = await isolate.createContext();
  try {
    await context.global.set("corpusInputJson", job.inputJson);
    await context.global.set("corpusPlatform", new ivm.Callback(platformHostFunction(), { sync: true }));
    await context.eval(SETUP_SOURCE);
    const finish = (await context.eval(FINISH_SOURCE, { reference: true })) as ivm.Reference<
      (value: unknown, isModule: boolean) => Promise<string>
    >;
    let value: ivm.Reference<unknown>;
    if (job.kind === "script") {
      const script = await isolate.compileScript(job.source, { filename: job.filename });
      value = (await script.run(context, { reference: true })) as ivm.Reference<unknown>;
    } else {
      const module = await isolate.compileModule(job.source, { filename: job.filename });
      await module.instantiate(context, (specifier) => {
        throw new Error(`no imports (${specifier})`);
      });
      await module.evaluate({ promise: true } as never);
      value = module.namespace;
    }
    const json = (await finish.apply(undefined, [value.derefInto(), job.kind === "module"], {
      result: { promise: true, copy: true },
    })) as string;
    return { ok: true, json };
  } catch (error) {
    const e = error as { name?: unknown; message?: unknown };
    return { ok: false, name: String(e?.name ?? typeof error), message: String(e?.message ?? error) };
  } finally {
    context.release();
  }
}

let queue = Promise.resolve();
process.on("message", (job: RawJob) => {
  queue = queue.then(async () => {
    const answer: RawAnswer = { id: job.id, outcome: await run(job) };
    process.send?.(answer);
  });
});
process.on("disconnect", () => process.exit(0));
process.send?.({ ready: true });
