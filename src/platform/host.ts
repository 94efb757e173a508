import { createHash, randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";

/**
 * What the guest-side platform layer needs from the sandbox's host. Every
 * function is synchronous (both engines can call synchronous host functions)
 * and takes and returns only primitives, so a sandbox can pass it across an
 * isolate or WebAssembly boundary as plain callbacks.
 *
 * Bytes travel as lowercase hex strings, two characters a byte. Hex survives
 * every boundary as is: quickjs-emscripten moves strings as NUL-terminated
 * C strings, so a "binary" (latin1) string would be cut at its first zero
 * byte (measured: digests came back truncated).
 *
 * The guest may call these functions with any arguments (a guest can tamper
 * with built-ins before the layer loads), so an implementation must validate
 * them; {@link nodePlatformHost} does.
 */
export interface PlatformHost {
  /** `n` (an integer in 0..65536) cryptographically random bytes, as a hex string of length `2n`. */
  randomBytes(n: number): string;
  /**
   * The digest of `data` (a hex string) by `algorithm`, one of "SHA-1", "SHA-256", "SHA-384",
   * "SHA-512" (already normalised by the guest), as a hex string.
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

const HEX = /^[0-9a-fA-F]*$/;

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
      return randomBytes(n).toString("hex");
    },
    digest(algorithm: string, data: string): string {
      const name = typeof algorithm === "string" ? DIGESTS.get(algorithm) : undefined;
      if (name === undefined) throw new TypeError(`digest: unsupported algorithm ${String(algorithm)}`);
      if (typeof data !== "string" || data.length % 2 !== 0 || !HEX.test(data)) {
        throw new TypeError("digest: data must be a hex string");
      }
      return createHash(name).update(Buffer.from(data, "hex")).digest("hex");
    },
    now(): number {
      return performance.now() - origin;
    },
  };
}
