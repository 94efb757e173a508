/**
 * Child process (started with --no-node-snapshot) that runs platform jobs on
 * plain isolated-vm: one isolate, a fresh context per job with the layer
 * installed. The loader is compiled once per isolate and run in each context,
 * the pattern a V8 sandbox can follow.
 */
import ivm from "isolated-vm";
import { nodePlatformHost, platformGroupSource, PLATFORM_LOADER_SOURCE } from "../../src/platform/index.js";
import { wrapJob, type Outcome } from "./engines.js";

const isolate = new ivm.Isolate({ memoryLimit: 256 });
const loader = isolate.compileScriptSync(PLATFORM_LOADER_SOURCE, { filename: "platform-loader.js" });

/** Installs the layer in a fresh context (host functions as synchronous ivm.Callbacks). */
export function installV8(context: ivm.Context): void {
  const host = nodePlatformHost();
  const global = context.global;
  global.setSync("__platformRandomBytes", new ivm.Callback((n: number) => host.randomBytes(n)));
  global.setSync("__platformDigest", new ivm.Callback((a: string, d: string) => host.digest(a, d)));
  global.setSync("__platformNow", new ivm.Callback(() => host.now()));
  global.setSync("__platformSource", new ivm.Callback((name: string) => platformGroupSource(name)));
  global.setSync("__platformInstall", loader.runSync(context, { reference: true }).derefInto());
  context.evalSync(`(() => {
    const g = globalThis;
    const host = { randomBytes: g.__platformRandomBytes, digest: g.__platformDigest, now: g.__platformNow };
    const install = g.__platformInstall, source = g.__platformSource;
    delete g.__platformRandomBytes; delete g.__platformDigest; delete g.__platformNow;
    delete g.__platformSource; delete g.__platformInstall;
    install(g, host, (0, eval), source);
  })()`);
}

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
