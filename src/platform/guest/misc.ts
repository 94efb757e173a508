/** Group `misc`: queueMicrotask and performance (both tiny). */
import { platform, tag } from "./runtime.js";

const resolved = Promise.resolve();

/** queueMicrotask: runs `callback` as a microtask; an error it throws becomes an unhandled rejection. */
export function queueMicrotask(callback: unknown): void {
  if (typeof callback !== "function") {
    throw new TypeError('The "callback" argument must be of type function.');
  }
  void resolved.then(() => (callback as () => void)());
}

const ILLEGAL = Symbol("illegal");

/** Performance: only `now()` (the host's clock, ms since the run started). */
export class Performance {
  constructor(token?: unknown) {
    if (token !== ILLEGAL) throw new TypeError("Illegal constructor");
  }

  now(): number {
    return platform.host.now();
  }
}
tag(Performance, "Performance");
for (const key of ["now"]) {
  const descriptor = Object.getOwnPropertyDescriptor(Performance.prototype, key);
  if (descriptor) Object.defineProperty(Performance.prototype, key, { ...descriptor, enumerable: true });
}

/** The `performance` global. */
export const performance = new Performance(ILLEGAL);
