/**
 * V8 flags of every sandbox process (V8 flags are per process). isolated-vm's
 * `memoryLimit` counts the V8 heap and what its ArrayBuffer allocator hands
 * out; V8 takes the memory of resizable ArrayBuffers, growable
 * SharedArrayBuffers and WebAssembly memories from its page allocator instead
 * (measured before: 1 GiB grown and written in a 10 MB sandbox, the run ending
 * ok with under 1 MB reported). So:
 *
 * - `--no-expose-wasm`: no `WebAssembly` global, hence no way to compile or
 *   instantiate a module or make a memory (as on QuickJS, which has none):
 *   WebAssembly code grows its memory with `memory.grow`, without any
 *   JavaScript call the sandbox could count.
 * - `--harmony-weak-refs-with-cleanup-some`: the prelude counts resizable
 *   ArrayBuffers itself (`prelude-memory.ts`), and before it refuses one it
 *   takes back at once the bytes of buffers V8 found dead. It takes
 *   `cleanupSome` away from the guest's view. Growable SharedArrayBuffers are
 *   turned off by the prelude.
 *
 * docs/engines.md lists what is off as documented differences.
 */
export const SANDBOX_V8_FLAGS: readonly string[] = ["--no-expose-wasm", "--harmony-weak-refs-with-cleanup-some"];

/** Throws unless this process runs with {@link SANDBOX_V8_FLAGS}: guests must never get memory the limit cannot see. */
export function assertSandboxFlags(execArgv: readonly string[] = process.execArgv): void {
  const missing = SANDBOX_V8_FLAGS.filter((flag) => !execArgv.includes(flag));
  if (missing.length > 0) {
    throw new Error(`a V8 sandbox process needs the V8 flags ${missing.join(" ")}`);
  }
}
