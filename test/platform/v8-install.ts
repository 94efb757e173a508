/**
 * Installs the platform layer in isolated-vm contexts, the pattern a V8
 * sandbox can follow: the loader is compiled once per isolate and run in each
 * fresh context; the host functions are synchronous ivm.Callbacks.
 */
import ivm from "isolated-vm";
import { nodePlatformHost, platformGroupSource, PLATFORM_LOADER_SOURCE } from "../../src/platform/index.js";

/**
 * A function that installs the layer in a fresh context of `isolate`. One
 * script, compiled once, reads the host callbacks from temporary globals,
 * deletes them and calls install. No ivm.Reference into the context is made:
 * an unreleased Reference keeps its whole context alive until Node's own GC
 * collects the handle (measured: 0.3 MB a context retained, the isolate
 * reaching its memory limit after ~1,500 runs).
 */
export function v8Installer(isolate: ivm.Isolate): (context: ivm.Context) => void {
  const script = isolate.compileScriptSync(
    `(() => {
      const g = globalThis;
      const host = { randomBytes: g.__platformRandomBytes, digest: g.__platformDigest, now: g.__platformNow };
      const source = g.__platformSource;
      delete g.__platformRandomBytes; delete g.__platformDigest; delete g.__platformNow; delete g.__platformSource;
      (${PLATFORM_LOADER_SOURCE})(g, host, (0, eval), source);
    })()`,
    { filename: "platform-install.js" },
  );
  return (context) => {
    const host = nodePlatformHost();
    const global = context.global;
    global.setSync("__platformRandomBytes", new ivm.Callback((n: number) => host.randomBytes(n)));
    global.setSync("__platformDigest", new ivm.Callback((a: string, d: string) => host.digest(a, d)));
    global.setSync("__platformNow", new ivm.Callback(() => host.now()));
    global.setSync("__platformSource", new ivm.Callback((name: string) => platformGroupSource(name)));
    script.runSync(context);
  };
}
