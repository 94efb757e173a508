/**
 * Child process (started with --no-node-snapshot) that runs platform jobs on
 * plain isolated-vm: one isolate, a fresh context per job with the layer
 * installed (v8-install.ts).
 */
import ivm from "isolated-vm";
import { wrapJob, type Outcome } from "./engines.js";
import { v8Installer } from "./v8-install.js";

const isolate = new ivm.Isolate({ memoryLimit: 256 });
const installV8 = v8Installer(isolate);

async function run(body: string): Promise<Outcome> {
  const context = await isolate.createContext();
  try {
    installV8(context);
    const text = (await context.eval(wrapJob(body), { promise: true, timeout: 10000 })) as string;
    return text.startsWith("!") ? { ok: false, error: text.slice(1) } : { ok: true, json: text };
  } catch (error) {
    return { ok: false, error: `host: ${String(error)}` };
  } finally {
    context.release();
  }
}

let queue = Promise.resolve();
process.on("message", (job: { id: number; body: string }) => {
  queue = queue.then(async () => {
    process.send?.({ id: job.id, outcome: await run(job.body) });
  });
});
process.on("disconnect", () => process.exit(0));
