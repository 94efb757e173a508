/**
 * The guest-side Web platform layer: URL, encoding, streams, fetch classes,
 * events/abort, Blob/FormData, structuredClone, crypto and the rest, for
 * bare V8 (isolated-vm) and QuickJS contexts. docs/platform.md describes it.
 *
 * Contract for a sandbox, per fresh context:
 *
 * 1. Evaluate {@link PLATFORM_LOADER_SOURCE} (raw, not instrumented): the
 *    value is `install(global, host, evaluate, source)`.
 * 2. Call it before any guest code with the context's global object, a
 *    {@link PlatformHost} (synchronous host functions), `evaluate(code, group)`
 *    (the engine's raw global eval of `code`, returning its value; `group`
 *    is for a filename or a cache key) and `source(group)` (returns
 *    `platformGroupSource(group)`, e.g. a host callback).
 * 3. Nothing else: every global is an accessor until first used, and
 *    `install` keeps no reference the guest can reach except those accessors.
 */
import type { PlatformHost } from "./host.js";
import { PLATFORM_GLOBALS, PLATFORM_GROUPS, PLATFORM_LOADER_SOURCE } from "./generated/platform.js";

export { PLATFORM_GLOBALS, PLATFORM_GROUPS, PLATFORM_LOADER_SOURCE };
export { nodePlatformHost, type PlatformHost } from "./host.js";

/** The names of all groups (some, like `idna`, define no global and load only through another group). */
export const PLATFORM_GROUP_NAMES: readonly string[] = Object.keys(PLATFORM_GROUPS);

/** A group's source (what the loader's `source(group)` must return); throws for an unknown group. */
export function platformGroupSource(group: string): string {
  const source = Object.hasOwn(PLATFORM_GROUPS, group) ? PLATFORM_GROUPS[group] : undefined;
  if (source === undefined) throw new Error(`unknown platform group: ${group}`);
  return source;
}

/** The signature of the function {@link PLATFORM_LOADER_SOURCE} evaluates to. */
export type PlatformInstall = (
  global: object,
  host: PlatformHost,
  evaluate: (groupSource: string, group: string) => unknown,
  source: (group: string) => string,
) => void;
