/**
 * The prelude's memory part: a JavaScript source fragment spliced into the
 * prelude's body (`prelude.ts`), run once in every fresh context before any
 * guest code. It is a block of its own; of the prelude's names it uses only
 * `replaceValue`.
 *
 * It turns growable `SharedArrayBuffer`s off on both engines (V8's growable
 * memory comes from its page allocator, which the isolate's limit cannot see,
 * see `v8/flags.ts`). QuickJS
 * 2025-09, as quickjs-emscripten builds it, allocates a growable shared
 * buffer's current length only and `grow()` just moves the length: the guest
 * would then read and write QuickJS's heap beyond the buffer (measured: the
 * WebAssembly module traps on a corrupted function table after growing to
 * 1 MiB and filling it). With the feature off, the constructor ignores its
 * options bag (so no shared buffer is ever created with a maximum length) and
 * the prototype has no `grow`. The engine's own `growable` and `maxByteLength`
 * getters stay: on fixed-length buffers they answer `false` and the length,
 * which is the truth, and code written for engines that have the feature
 * (webidl-conversions reads the `growable` getter at load) keeps working.
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
      const fixedLength = new Proxy(SharedArrayBufferCtor, {
        construct(target, args, newTarget) {
          return construct(target, args.length > 0 ? [args[0]] : [], newTarget);
        },
      });
      delete sharedPrototype.grow;
      replaceValue(sharedPrototype, "constructor", fixedLength);
      replaceValue(globalThis, "SharedArrayBuffer", fixedLength);
    }
  }
`;

/**
 * The prelude's accounting of resizable ArrayBuffers where the engine's own
 * memory limit cannot see them (V8: their memory comes from the page
 * allocator, not the heap the isolate's limit watches). A JavaScript source
 * fragment spliced into the prelude's body after `kill`, `memoryLimit`, `replaceValue`,
 * `apply`, `native` and `RangeErrorCtor`; it does nothing where the engine has no resizable
 * buffers or counts them itself (QuickJS: they live in its metered heap, and
 * its FinalizationRegistry has no `cleanupSome`).
 *
 * Every resizable buffer's committed bytes (its `byteLength`) are counted
 * from creation and after every `resize`; a buffer's bytes come back when the
 * garbage collector has freed it (a FinalizationRegistry). When a buffer would
 * take the count past the memory limit, the registry's cleanup runs at once
 * first (`cleanupSome`: the sandbox processes run with
 * `--harmony-weak-refs-with-cleanup-some`; the method is taken here and
 * removed from the guest's view), so buffers V8 already found dead are not
 * held against the guest; if it is still over, the run ends with the memory
 * error before the guest can touch the new memory. Buffers dropped but not
 * yet collected still count: the count errs on the side of too much, never
 * too little. The peak is reported with the run's status and added to the
 * heap the engine measures.
 *
 * `ArrayBuffer` is wrapped in a Proxy (name, length, prototype, species,
 * subclassing and `new.target` are the engine's own) and `resize` in a method
 * that calls the engine's first, so argument coercion happens once, as raw.
 */
export const RESIZABLE_PRELUDE = String.raw`
  const registryPrototype = typeof FinalizationRegistry === "function" ? FinalizationRegistry.prototype : undefined;
  const cleanupSome = registryPrototype === undefined ? undefined : registryPrototype.cleanupSome;
  if (registryPrototype !== undefined) delete registryPrototype.cleanupSome;
  let offHeapBytes = 0;
  let offHeapPeak = 0;
  // RangeErrors of a QuickJS resize past maxByteLength: the guest's own (see convert), marked here.
  const resizeRangeErrors = new WeakSet();
  const weakSetHas = WeakSet.prototype.has;
  const isResizeRangeError = (error) => apply(weakSetHas, resizeRangeErrors, [error]);
  {
    const ArrayBufferCtor = ArrayBuffer;
    const bufferPrototype = ArrayBufferCtor.prototype;
    const describe = Object.getOwnPropertyDescriptor;
    const resizeSlot = describe(bufferPrototype, "resize");
    const resizableGetter = describe(bufferPrototype, "resizable");
    if (typeof cleanupSome === "function" && resizeSlot && resizableGetter) {
      const realResize = resizeSlot.value;
      const isResizable = resizableGetter.get;
      const byteLengthGetter = describe(bufferPrototype, "byteLength").get;
      const construct = Reflect.construct;
      const records = new WeakMap();
      const recordOf = WeakMap.prototype.get;
      const remember = WeakMap.prototype.set;
      const registry = new FinalizationRegistry((record) => {
        offHeapBytes -= record.bytes;
      });
      const register = FinalizationRegistry.prototype.register;
      // Before the count moves from "was" to "now" bytes for one buffer.
      const admit = (was, now) => {
        if (now <= was) return;
        if (memoryLimit > 0 && offHeapBytes - was + now > memoryLimit) {
          apply(cleanupSome, registry, []);
          if (offHeapBytes - was + now > memoryLimit) kill("memory", memoryLimit, offHeapBytes - was + now);
        }
      };
      const account = (record, now) => {
        offHeapBytes += now - record.bytes;
        record.bytes = now;
        if (offHeapBytes > offHeapPeak) offHeapPeak = offHeapBytes;
      };
      const counted = new Proxy(ArrayBufferCtor, {
        construct(target, args, newTarget) {
          const buffer = construct(target, args, newTarget);
          if (apply(isResizable, buffer, [])) {
            const bytes = apply(byteLengthGetter, buffer, []);
            admit(0, bytes);
            const record = { bytes: 0 };
            account(record, bytes);
            apply(remember, records, [buffer, record]);
            apply(register, registry, [buffer, record]);
          }
          return buffer;
        },
      });
      const resize = native(
        {
          resize(newLength) {
            const record = apply(recordOf, records, [this]);
            const result = apply(realResize, this, [newLength]);
            if (record !== undefined) {
              const now = apply(byteLengthGetter, this, []);
              admit(record.bytes, now);
              account(record, now);
            }
            return result;
          },
        }.resize,
        "resize",
      );
      replaceValue(bufferPrototype, "resize", resize);
      replaceValue(bufferPrototype, "constructor", counted);
      replaceValue(globalThis, "ArrayBuffer", counted);
    } else if (resizeSlot && typeof cleanupSome !== "function") {
      // QuickJS words a resize past maxByteLength, a RangeError the guest may catch, as it words
      // its own 2 GiB cap on a buffer ("invalid array buffer length"), which convert takes for
      // the memory limit: a resize only ever throws it for the former.
      const realResize = resizeSlot.value;
      const mark = WeakSet.prototype.add;
      const resize = native(
        {
          resize(newLength) {
            try {
              return apply(realResize, this, [newLength]);
            } catch (error) {
              if (error instanceof RangeErrorCtor) apply(mark, resizeRangeErrors, [error]);
              throw error;
            }
          },
        }.resize,
        "resize",
      );
      replaceValue(bufferPrototype, "resize", resize);
    }
  }
`;
