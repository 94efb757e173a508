/**
 * What every platform group sees while it runs inside the guest: the host
 * functions and the loader's `require`, passed as the group function's
 * `__platform` parameter (see scripts/build-platform.mjs). Groups reach each
 * other only through `require`, never through globals, so a guest that
 * overwrites or deletes a global does not break the other groups.
 */
import type { PlatformHost } from "../host.js";

/** The loader's view given to each group. */
export interface GuestPlatform {
  /** The sandbox's host functions (synchronous, primitives only). */
  readonly host: PlatformHost;
  /** The exports of another group, evaluating it on first use. */
  require(group: string): unknown;
  /** The exports of another group if it is loaded already, else undefined (never loads it). */
  loaded(group: string): unknown;
}

declare const __platform: GuestPlatform;

/** This group's platform handle (the free `__platform` is the group function's parameter). */
export const platform: GuestPlatform = __platform;

/** Defines `value` on `target` like a Web IDL attribute/operation: writable, configurable, not enumerable. */
export function hidden(target: object, name: PropertyKey, value: unknown): void {
  Object.defineProperty(target, name, { value, writable: true, configurable: true, enumerable: false });
}

/** Sets `Symbol.toStringTag` on a prototype as Web IDL does (configurable, read-only). */
export function tag(target: { prototype: object }, name: string): void {
  Object.defineProperty(target.prototype, Symbol.toStringTag, { value: name, configurable: true });
}

/** %IteratorPrototype%, which Web IDL iterators inherit from. */
const IteratorPrototype = Object.getPrototypeOf(Object.getPrototypeOf([][Symbol.iterator]())) as object;

/**
 * A Web IDL iterator kind ("Headers Iterator", "FormData Iterator"): returns a
 * function making iterators over `at(index)` (undefined ends the iteration),
 * asked afresh at each step, so that iteration sees later changes as Web IDL
 * pair iterators do.
 */
export function iteratorKind<T>(name: string): (at: (index: number) => T | undefined) => IterableIterator<T> {
  const states = new WeakMap<object, { at: (index: number) => T | undefined; index: number }>();
  const prototype = Object.create(IteratorPrototype, {
    next: {
      value: function next(this: unknown) {
        const state = typeof this === "object" && this !== null ? states.get(this) : undefined;
        if (!state) throw new TypeError(`next method called on an object that is not a ${name} Iterator`);
        const value = state.at(state.index);
        if (value === undefined) return { value: undefined, done: true };
        state.index++;
        return { value, done: false };
      },
      writable: true,
      enumerable: true,
      configurable: true,
    },
    [Symbol.toStringTag]: { value: `${name} Iterator`, configurable: true },
  }) as object;
  return (at) => {
    const iterator = Object.create(prototype) as IterableIterator<T>;
    states.set(iterator, { at, index: 0 });
    return iterator;
  };
}
