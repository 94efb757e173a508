import { nodePlatformHost, platformGroupSource } from "../platform/index.js";

/**
 * The host side of the sandbox's Web platform layer (`src/platform`), as the
 * one synchronous host function both engines install (`__wardenPlatform`):
 * `("random", n)` random bytes as hex, `("digest", algorithm, hex)` a digest
 * as hex, `("now")` milliseconds since the sandbox was made, `("source", group)`
 * the source of a platform group, evaluated in the sandbox on first use.
 * Arguments come from inside the sandbox and are checked as such.
 */
export function platformHostFunction(): (op: unknown, a: unknown, b: unknown) => string {
  const host = nodePlatformHost();
  return (op, a, b) => {
    switch (op) {
      case "random":
        return host.randomBytes(a as number);
      case "digest":
        return host.digest(a as string, b as string);
      case "now":
        return String(host.now());
      case "source":
        return platformGroupSource(String(a));
      default:
        throw new TypeError(`unknown platform operation ${String(op)}`);
    }
  };
}
