/**
 * Group `crypto`: `crypto.getRandomValues`, `crypto.randomUUID` and
 * `crypto.subtle.digest`, on the host's randomBytes and digest. The other
 * SubtleCrypto operations are absent (they throw NotSupportedError).
 */
import type * as DomException from "./dom-exception.js";
import type * as Encoding from "./encoding.js";
import { platform, tag } from "./runtime.js";

const host = platform.host;

function domException(message: string, name: string): Error {
  const { DOMException } = platform.require("domexception") as typeof DomException;
  return new DOMException(message, name);
}

function encoding(): typeof Encoding {
  return platform.require("encoding") as typeof Encoding;
}

const INTEGER_ARRAYS = [
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  BigInt64Array,
  BigUint64Array,
];

/** Random bytes come from the host in 256-byte batches, so many small requests cost one host call. */
let pool: Uint8Array = new Uint8Array(0);

function randomBytes(n: number): Uint8Array {
  if (n > 256) return encoding().fromHex(host.randomBytes(n));
  if (pool.length < n) pool = encoding().fromHex(host.randomBytes(256));
  const taken = pool.slice(0, n);
  pool = pool.subarray(n);
  return taken;
}

const ILLEGAL = Symbol("illegal");
const DIGESTS: Record<string, string> = {
  "sha-1": "SHA-1",
  "sha-256": "SHA-256",
  "sha-384": "SHA-384",
  "sha-512": "SHA-512",
};

/** SubtleCrypto: only `digest` is implemented. */
export class SubtleCrypto {
  constructor(token?: unknown) {
    if (token !== ILLEGAL) throw new TypeError("Illegal constructor");
  }

  digest(algorithm: unknown, data: unknown): Promise<ArrayBuffer> {
    try {
      const name =
        typeof algorithm === "object" && algorithm !== null ? (algorithm as { name?: unknown }).name : algorithm;
      const normalized = DIGESTS[String(name).toLowerCase()];
      if (normalized === undefined) throw domException("Unrecognized algorithm name", "NotSupportedError");
      const { bytesOf, toHex, fromHex } = encoding();
      const bytes = bytesOf(data, "data");
      return Promise.resolve(fromHex(host.digest(normalized, toHex(bytes))).buffer as ArrayBuffer);
    } catch (error) {
      return Promise.reject(error);
    }
  }
}
tag(SubtleCrypto, "SubtleCrypto");
for (const method of [
  "encrypt",
  "decrypt",
  "sign",
  "verify",
  "generateKey",
  "deriveKey",
  "deriveBits",
  "importKey",
  "exportKey",
  "wrapKey",
  "unwrapKey",
]) {
  Object.defineProperty(SubtleCrypto.prototype, method, {
    value: function unsupported() {
      return Promise.reject(
        domException(`crypto.subtle.${method} is not supported in this sandbox`, "NotSupportedError"),
      );
    },
    writable: true,
    enumerable: true,
    configurable: true,
  });
}

const subtle = new SubtleCrypto(ILLEGAL);

/** Crypto: the `crypto` global's class. */
export class Crypto {
  constructor(token?: unknown) {
    if (token !== ILLEGAL) throw new TypeError("Illegal constructor");
  }

  get subtle(): SubtleCrypto {
    if (!(this instanceof Crypto)) throw new TypeError("Illegal invocation");
    return subtle;
  }

  getRandomValues<T>(array: T): T {
    if (!(this instanceof Crypto)) throw new TypeError("Illegal invocation");
    if (!INTEGER_ARRAYS.some((Type) => array instanceof Type)) {
      throw domException("The data argument must be an integer-type TypedArray", "TypeMismatchError");
    }
    const view = array as unknown as Uint8Array;
    if (view.byteLength > 65536) {
      throw domException(
        `The ArrayBufferView's byte length (${view.byteLength}) exceeds the number of bytes of entropy available via this API (65536)`,
        "QuotaExceededError",
      );
    }
    new Uint8Array(view.buffer, view.byteOffset, view.byteLength).set(randomBytes(view.byteLength));
    return array;
  }

  randomUUID(): string {
    if (!(this instanceof Crypto)) throw new TypeError("Illegal invocation");
    const bytes = randomBytes(16);
    bytes[6] = ((bytes[6] as number) & 0x0f) | 0x40;
    bytes[8] = ((bytes[8] as number) & 0x3f) | 0x80;
    let hex = "";
    for (let i = 0; i < 16; i++) hex += (bytes[i] as number).toString(16).padStart(2, "0");
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }
}
tag(Crypto, "Crypto");
for (const key of ["subtle", "getRandomValues", "randomUUID"]) {
  const descriptor = Object.getOwnPropertyDescriptor(Crypto.prototype, key);
  if (descriptor) Object.defineProperty(Crypto.prototype, key, { ...descriptor, enumerable: true });
}
Object.defineProperty(SubtleCrypto.prototype, "digest", { enumerable: true });

/** The `crypto` global. */
export const crypto = new Crypto(ILLEGAL);
