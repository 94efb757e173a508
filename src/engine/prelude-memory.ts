/**
 * The prelude's memory part: a JavaScript source fragment spliced into the
 * prelude's body (`prelude.ts`), run once in every fresh context before any
 * guest code. It is a block of its own and relies on no name of the prelude.
 *
 * It turns growable `SharedArrayBuffer`s off where the engine has them
 * (QuickJS; the V8 sandboxes run without them, see `v8/flags.ts`). QuickJS
 * 2025-09, as quickjs-emscripten builds it, allocates a growable shared
 * buffer's current length only and `grow()` just moves the length: the guest
 * would then read and write QuickJS's heap beyond the buffer (measured: the
 * WebAssembly module traps on a corrupted function table after growing to
 * 1 MiB and filling it). With the feature off, both engines behave as V8
 * without it: the constructor ignores its options bag (so no shared buffer
 * is ever created with a maximum length) and the prototype has no `grow`,
 * `growable` or `maxByteLength`.
 *
 * The constructor is wrapped in a Proxy, so its name, length, prototype,
 * species, the error of a call without `new`, subclassing and `new.target`
 * are the engine's own; the original constructor stays reachable only from
 * the proxy's handler, which guest code cannot reach.
 */
export const MEMORY_PRELUDE = String.raw`
  {
    const SharedArrayBufferCtor = globalThis.SharedArrayBuffer;
    const sharedPrototype = typeof SharedArrayBufferCtor === "function" ? SharedArrayBufferCtor.prototype : undefined;
    const describe = Object.getOwnPropertyDescriptor;
    if (sharedPrototype !== undefined && describe(sharedPrototype, "grow") !== undefined) {
      const construct = Reflect.construct;
      const define = Object.defineProperty;
      const fixedLength = new Proxy(SharedArrayBufferCtor, {
        construct(target, args, newTarget) {
          return construct(target, args.length > 0 ? [args[0]] : [], newTarget);
        },
      });
      delete sharedPrototype.grow;
      delete sharedPrototype.growable;
      delete sharedPrototype.maxByteLength;
      const constructorSlot = describe(sharedPrototype, "constructor");
      constructorSlot.value = fixedLength;
      define(sharedPrototype, "constructor", constructorSlot);
      const globalSlot = describe(globalThis, "SharedArrayBuffer");
      globalSlot.value = fixedLength;
      define(globalThis, "SharedArrayBuffer", globalSlot);
    }
  }
`;
