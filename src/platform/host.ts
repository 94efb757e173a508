import { createHash, randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";

/**
 * What the guest-side platform layer needs from the sandbox's host. Every
 * function is synchronous (both engines can call synchronous host functions)
 * and takes and returns only primitives, so a sandbox can pass it across an
 * isolate or WebAssembly boundary as plain callbacks.
 *
 * Bytes travel as "binary strings": one UTF-16 code unit per byte, each in
 * 0..255 (Node's `latin1` encoding). That is compact, needs no parsing on the
 * guest side (charCodeAt / String.fromCharCode), and survives quickjs-emscripten's
 * UTF-8 string transfer (U+0000..U+00FF round-trip exactly).
 *
 * The guest may call these functions with any arguments (a guest can tamper
 * with built-ins before the layer loads), so an implementation must validate
 * them; {@link nodePlatformHost} does.
 */
export interface PlatformHost {
  /** `n` (an integer in 0..65536) cryptographically random bytes, as a binary string of length `n`. */
  randomBytes(n: number): string;
  /**
   * The digest of `data` (a binary string) by `algorithm`, one of "SHA-1", "SHA-256", "SHA-384",
   * "SHA-512" (already normalised by the guest), as a binary string.
   */
  digest(algorithm: string, data: string): string;
  /** Milliseconds since the run started: high resolution, monotonic (what `performance.now()` returns). */
  now(): number;
}

/** The digest names the guest may ask for, and Node's names for them. */
const DIGESTS: ReadonlyMap<string, string> = new Map([
  ["SHA-1", "sha1"],
  ["SHA-256", "sha256"],
  ["SHA-384", "sha384"],
  ["SHA-512", "sha512"],
]);

/** Largest `randomBytes` request: what `crypto.getRandomValues` allows at once. */
const MAX_RANDOM_BYTES = 65536;

/**
 * A {@link PlatformHost} on node:crypto and node:perf_hooks. Its clock starts
 * at the call, so create one per run (or pass `origin`, a `performance.now()`
 * reading, to share a start). Throws a TypeError/RangeError on bad arguments:
 * the guest sees those only if its own tampering made the layer misbehave.
 */
export function nodePlatformHost(origin: number = performance.now()): PlatformHost {
  return {
    randomBytes(n: number): string {
      if (typeof n !== "number" || !Number.isInteger(n) || n < 0 || n > MAX_RANDOM_BYTES) {
        throw new RangeError(`randomBytes: ${String(n)} is not an integer in 0..${MAX_RANDOM_BYTES}`);
      }
      return randomBytes(n).toString("latin1");
    },
    digest(algorithm: string, data: string): string {
      const name = typeof algorithm === "string" ? DIGESTS.get(algorithm) : undefined;
      if (name === undefined) throw new TypeError(`digest: unsupported algorithm ${String(algorithm)}`);
      if (typeof data !== "string") throw new TypeError("digest: data must be a binary string");
      return createHash(name).update(data, "latin1").digest().toString("latin1");
    },
    now(): number {
      return performance.now() - origin;
    },
  };
}
