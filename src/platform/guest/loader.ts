/**
 * The loader: the only platform source a fresh context evaluates up front.
 * The build (scripts/build-platform.mjs) bundles this file and wraps it so
 * that PLATFORM_LOADER_SOURCE evaluates to `install`. It must stay small and
 * self-contained: it runs in every guest context before any guest code.
 */
import type { PlatformHost } from "../host.js";
import type { GuestPlatform } from "./runtime.js";

/**
 * Which group defines each global, as "group:Name,Name;group:Name" (the build
 * fills it in with esbuild `define`): a string literal costs QuickJS far less
 * to compile than an object literal of ~40 properties.
 */
declare const __PLATFORM_GLOBALS__: string;

/**
 * Defines every platform global on `global` as a configurable, non-enumerable
 * accessor. The first get of one evaluates its group (`evaluate(source(name), name)`
 * must return the group's function) and replaces the accessors of all that
 * group's globals still in place with writable, configurable, non-enumerable
 * data properties; a set replaces just that global with the value set.
 * Returns nothing; nothing of the loader is reachable from the guest except
 * through the accessors themselves.
 */
export function install(
  global: object,
  host: PlatformHost,
  evaluate: (groupSource: string, group: string) => unknown,
  source: (group: string) => string,
): void {
  const defineProperty = Object.defineProperty;
  const getOwnPropertyDescriptor = Object.getOwnPropertyDescriptor;
  const create = Object.create;
  const loaded: Record<string, unknown> = create(null);
  const loading: Record<string, boolean> = create(null);
  const getters: Record<string, () => unknown> = create(null);
  // No prototype: a guest getter on Object.prototype must never see this object.
  const platform: GuestPlatform = Object.assign(create(null) as object, {
    host,
    require,
    loaded: (group: string) => loaded[group],
  });

  function require(group: string): unknown {
    let exports = loaded[group];
    if (exports !== undefined) return exports;
    if (loading[group]) throw new Error(`platform group ${group} requires itself while loading`);
    loading[group] = true;
    try {
      const factory = evaluate(source(group), group);
      if (typeof factory !== "function") throw new TypeError(`platform group ${group} did not evaluate to a function`);
      exports = factory(platform);
      loaded[group] = exports;
    } finally {
      loading[group] = false;
    }
    return exports;
  }

  // Descriptors without a prototype: a guest that put `get` or `value` on Object.prototype before a
  // group loads must not turn them into something else.
  function settle(name: string, value: unknown): void {
    const descriptor = create(null) as PropertyDescriptor;
    descriptor.value = value;
    descriptor.writable = true;
    descriptor.configurable = true;
    defineProperty(global, name, descriptor);
  }

  // One descriptor object serves every accessor (defineProperty copies it): fewer objects for QuickJS
  // to make in every fresh context.
  const accessor = create(null) as PropertyDescriptor;
  accessor.configurable = true;
  for (const entry of __PLATFORM_GLOBALS__.split(";")) {
    const colon = entry.indexOf(":");
    const group = entry.slice(0, colon);
    const names = entry.slice(colon + 1).split(",");
    for (const name of names) {
      const get = function () {
        const exports = require(group) as Record<string, unknown>;
        // Every global of the group whose accessor is still ours becomes a data property. (An index
        // loop: the guest may have replaced Array.prototype[Symbol.iterator] by now.)
        for (let i = 0; i < names.length; i++) {
          const other = names[i] as string;
          const descriptor = getOwnPropertyDescriptor(global, other);
          if (descriptor && descriptor.get === getters[other]) settle(other, exports[other]);
        }
        return exports[name];
      };
      getters[name] = get;
      accessor.get = get;
      accessor.set = function (value: unknown) {
        settle(name, value);
      };
      defineProperty(global, name, accessor);
    }
  }
}
