/**
 * V8 flags of every sandbox process: the features whose memory isolated-vm's
 * `memoryLimit` cannot see are off in every isolate there (V8 flags are per
 * process). isolated-vm counts the V8 heap and what its ArrayBuffer allocator
 * hands out; V8 takes the memory of resizable ArrayBuffers, growable
 * SharedArrayBuffers and WebAssembly memories from its page allocator
 * instead (measured before: 1 GiB grown and written in a 10 MB sandbox, the
 * run ending ok with under 1 MB reported). Counting them on the guest side
 * cannot be exact: their memory comes back only when a garbage collection
 * finds them dead, which guest code never sees, and WebAssembly code grows
 * its memory with `memory.grow`, without any JavaScript call. So:
 *
 * - `--no-harmony-rab-gsab`: V8 as before resizable buffers. `ArrayBuffer`
 *   and `SharedArrayBuffer` ignore a `maxByteLength` option and their
 *   prototypes have no `resize`/`grow`/`resizable`/`growable`/`maxByteLength`.
 * - `--no-expose-wasm`: no `WebAssembly` global, hence no way to compile or
 *   instantiate a module or make a memory (as on QuickJS, which has none).
 *
 * docs/engines.md lists both as documented differences.
 */
export const SANDBOX_V8_FLAGS: readonly string[] = ["--no-harmony-rab-gsab", "--no-expose-wasm"];

/** Throws unless this process runs with {@link SANDBOX_V8_FLAGS}: guests must never get memory the limit cannot see. */
export function assertSandboxFlags(execArgv: readonly string[] = process.execArgv): void {
  const missing = SANDBOX_V8_FLAGS.filter((flag) => !execArgv.includes(flag));
  if (missing.length > 0) {
    throw new Error(`a V8 sandbox process needs the V8 flags ${missing.join(" ")}`);
  }
}
