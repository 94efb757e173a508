// Every way a guest can obtain memory either counts against memoryBytes (the run ends with the
// memory error, usage.peakMemoryBytes shows it) or is turned off in the sandbox, on both engines.
// docs/engines.md ("Memory: every path") lists which is which and why.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import vm from "node:vm";
import { getQuickJS } from "quickjs-emscripten";
import type { Runtime } from "../../src/index.js";
import { TEST_ENGINES, testRuntime, value, limitHit, scriptError } from "../helpers/runtime.js";

const MB = 1e6;
const LIMIT = 10 * MB;
const LIMITS = { memoryBytes: LIMIT, timeoutMs: 10_000, cpuTimeMs: 10_000, maxInstructions: -1 } as const;
/** What a legitimate run holds, well below the limit. */
const HELD = 4 * 2 ** 20;
/** QuickJS reports heap growth; allocations that fit in its free reserve do not show (docs/engines.md). */
const QUICKJS_RESERVE = 512 * 1024;

/**
 * A WebAssembly module, as bytes, whose exported `g()` grows its own memory with the `memory.grow`
 * instruction 16 pages at a time up to its 1 GiB maximum and fills every new page: no JavaScript
 * call is involved in the growth.
 */
const SELF_GROWING_WASM = [
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 127, 3, 2, 1, 0, 5, 6, 1, 1, 1, 128, 128, 1, 7, 9, 2, 1, 103, 0, 0, 1,
  109, 2, 0, 10, 40, 1, 38, 1, 1, 127, 3, 64, 65, 16, 64, 0, 34, 0, 65, 127, 71, 4, 64, 32, 0, 65, 16, 116, 65, 1, 65,
  128, 128, 192, 0, 252, 11, 0, 12, 1, 11, 11, 63, 0, 11,
];

/** Guests that try to obtain far more than the limit, one per path. */
const BOMBS = {
  resizableArrayBuffer:
    "const b = new ArrayBuffer(0, { maxByteLength: 2 ** 30 });\n" +
    "for (let n = 2 ** 20; n <= 2 ** 30; n += 2 ** 20) { b.resize(n); new Uint8Array(b, n - 2 ** 20).fill(1) }\n" +
    "b.byteLength",
  growableSharedArrayBuffer:
    "const b = new SharedArrayBuffer(0, { maxByteLength: 2 ** 30 });\n" +
    "for (let n = 2 ** 20; n <= 2 ** 30; n += 2 ** 20) { b.grow(n); new Uint8Array(b, n - 2 ** 20).fill(1) }\n" +
    "b.byteLength",
  sharedArrayBuffer:
    "const kept = []; for (let i = 0; i < 1024; i++) { const b = new SharedArrayBuffer(2 ** 20); new Uint8Array(b).fill(1); kept.push(b) } kept.length",
  oneHugeSharedArrayBuffer: "new SharedArrayBuffer(2 ** 30).byteLength",
  typedArrayOverSharedArrayBuffer: "new Float64Array(new SharedArrayBuffer(2 ** 28)).fill(1).length",
  dataViewOverSharedArrayBuffer:
    "const views = []; for (let i = 0; i < 1024; i++) views.push(new DataView(new SharedArrayBuffer(2 ** 20))); views.length",
  typedArrayOverResizableArrayBuffer:
    "const b = new ArrayBuffer(0, { maxByteLength: 2 ** 30 }); const t = new Uint8Array(b);\n" +
    "for (let n = 2 ** 20; n <= 2 ** 30; n += 2 ** 20) { b.resize(n); t.fill(1) }\n" +
    "t.length",
  wasmMemory:
    "const m = new WebAssembly.Memory({ initial: 1, maximum: 16384 });\n" +
    "for (let i = 1; i < 16384; i += 16) { m.grow(16); new Uint8Array(m.buffer).fill(1, i * 65536) }\n" +
    "m.buffer.byteLength",
  wasmMemoryInitial: "new Uint8Array(new WebAssembly.Memory({ initial: 16384 }).buffer).fill(1).length",
  sharedWasmMemory:
    "const m = new WebAssembly.Memory({ initial: 1, maximum: 16384, shared: true });\n" +
    "for (let i = 1; i < 16384; i += 16) { m.grow(16); new Uint8Array(m.buffer).fill(1, i * 65536) }\n" +
    "m.buffer.byteLength",
  wasmModuleGrowingItsMemory: `new WebAssembly.Instance(new WebAssembly.Module(new Uint8Array(${JSON.stringify(SELF_GROWING_WASM)})), {}).exports.g()`,
  materialisedString: "let s = 'ab'; for (let i = 0; i < 26; i++) s = s + s; s.charCodeAt(7) + s.length",
  stringFromRepeat: "'xy'.repeat(2 ** 26).toUpperCase().length",
} as const;

/** Legitimate runs that hold about HELD bytes through a path that counts, and say how much they hold. */
const HOLDERS = {
  sharedArrayBuffer: `globalThis.kept = new SharedArrayBuffer(${HELD}); new Uint8Array(kept).fill(1); kept.byteLength`,
  dataViewOverSharedArrayBuffer: `globalThis.kept = new DataView(new SharedArrayBuffer(${HELD})); kept.setUint8(${HELD - 1}, 1); kept.byteLength`,
  resizableArrayBuffer:
    `globalThis.kept = new ArrayBuffer(0, { maxByteLength: 2 ** 30 }); kept.resize(${HELD});` +
    " new Uint8Array(kept).fill(1); kept.byteLength",
  materialisedString: `globalThis.kept = 'x'.repeat(${HELD}); kept.charCodeAt(5) && kept.length`,
} as const;

/** Reads a summary of how typed arrays behave over a resizable buffer, as JSON text (run raw and in Warden). */
const RESIZABLE_TYPED_ARRAYS = `
  class MyUint8Array extends Uint8Array {}
  class MyFloat32Array extends Float32Array {}
  class MyBigInt64Array extends BigInt64Array {}
  const ctors = [Uint8Array, Int8Array, Uint16Array, Int16Array, Uint32Array, Int32Array, Float32Array, Float64Array,
    Uint8ClampedArray, BigUint64Array, BigInt64Array, MyUint8Array, MyFloat32Array, MyBigInt64Array];
  if (typeof Float16Array !== "undefined") ctors.push(Float16Array);
  const out = [];
  for (let ctor of ctors) {
    const rab = new ArrayBuffer(4 * ctor.BYTES_PER_ELEMENT, { maxByteLength: 8 * ctor.BYTES_PER_ELEMENT });
    const big = ctor === BigInt64Array || ctor === BigUint64Array || ctor === MyBigInt64Array;
    const tracking = new ctor(rab);
    const fixed = new ctor(rab, 0, 4);
    const offset = new ctor(rab, 2 * ctor.BYTES_PER_ELEMENT);
    for (let i = 0; i < 4; i++) tracking[i] = big ? BigInt(i * 2) : i * 2;
    const row = [ctor.name, tracking.length, fixed.length, offset.length];
    rab.resize(8 * ctor.BYTES_PER_ELEMENT);
    row.push(tracking.length, fixed.length, offset.length, String(tracking[7]));
    rab.resize(1 * ctor.BYTES_PER_ELEMENT);
    row.push(tracking.length, fixed.length, offset.length, fixed.byteOffset, String(fixed[0]), String(offset[0]));
    try { fixed.fill(big ? 1n : 1); row.push("filled") } catch (e) { row.push(e.name) }
    try { new ctor(rab, 4 * ctor.BYTES_PER_ELEMENT); row.push("made") } catch (e) { row.push(e.name) }
    rab.resize(0);
    row.push(tracking.length, [...tracking].length);
    out.push(row.join(":"));
  }
  const view = new DataView(new ArrayBuffer(8, { maxByteLength: 16 }));
  view.buffer.resize(16);
  out.push("view:" + view.byteLength);
  const d = (o, k) => JSON.stringify(Object.getOwnPropertyDescriptor(o, k), (key, v) => typeof v === "function" ? typeof v + ":" + v.name + ":" + v.length : v);
  out.push(d(ArrayBuffer.prototype, "resize"), d(ArrayBuffer.prototype, "maxByteLength"), d(ArrayBuffer.prototype, "resizable"));
  JSON.stringify(out);
`;

/** This process's RSS plus that of its child processes (the V8 sandboxes), in bytes. Linux only. */
function treeRss(): number {
  let total = process.memoryUsage.rss();
  for (const pid of childPids(process.pid)) total += rssOf(pid);
  return total;
}

function childPids(pid: number): number[] {
  const pids: number[] = [];
  try {
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      const children = readFileSync(`/proc/${pid}/task/${task}/children`, "utf8").trim();
      if (children) pids.push(...children.split(/\s+/).map(Number));
    }
  } catch {
    // Not Linux, or the process just ended.
  }
  return pids;
}

function rssOf(pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

for (const engine of TEST_ENGINES) {
  const quickjs = engine === "quickjs";
  /**
   * Resizable ArrayBuffers are on and counted on both engines: QuickJS allocates them in its
   * metered heap; on V8 the prelude counts them (prelude-memory.ts).
   */
  const resizable = true;

  describe(`memory paths [${engine}]`, () => {
    let runtime: Runtime;
    before(async () => {
      runtime = await testRuntime(engine, { limits: LIMITS });
    });
    after(async () => {
      await runtime.close();
    });

    /** Asserts that a bomb ends with the memory error, with the configured limit in it. */
    const memoryError = async (source: string) => {
      const result = await limitHit(runtime, "memory", source);
      assert.equal(result.error.message, "memory limit exceeded (10MB)");
      return result;
    };

    describe("counted: crossing the limit is the memory error", () => {
      const counted: (keyof typeof BOMBS)[] = [
        "sharedArrayBuffer",
        "oneHugeSharedArrayBuffer",
        "typedArrayOverSharedArrayBuffer",
        "dataViewOverSharedArrayBuffer",
        "materialisedString",
        "stringFromRepeat",
        ...(resizable ? (["resizableArrayBuffer", "typedArrayOverResizableArrayBuffer"] as const) : []),
      ];
      for (const name of counted) {
        test(name, async () => {
          await memoryError(BOMBS[name]);
        });
      }

      test("the memory error is terminal: a guest catching it cannot carry on", async () => {
        const grow = resizable
          ? "const b = new ArrayBuffer(0, { maxByteLength: 2 ** 30 }); for (let n = 2 ** 20; ; n += 2 ** 20) b.resize(n)"
          : "const kept = []; for (;;) kept.push(new SharedArrayBuffer(2 ** 20))";
        await memoryError(`let caught = 0; try { ${grow} } catch (e) { caught++ } finally { caught++ } caught`);
        await memoryError(`try { ${grow} } catch { } 'carried on'`);
      });

      for (const [name, source] of Object.entries(HOLDERS)) {
        if (name === "resizableArrayBuffer" && !resizable) continue;
        test(`usage.peakMemoryBytes shows what a run holds below the limit: ${name}`, async () => {
          const result = await runtime.run(source);
          assert.ok(result.ok, `expected success, got ${!result.ok && result.error.message}`);
          assert.equal(result.value, HELD);
          const peak = result.usage.peakMemoryBytes;
          assert.ok(peak >= HELD - (quickjs ? QUICKJS_RESERVE : 0), `peak ${peak} < held ${HELD}`);
          // On V8 a resizable buffer's bytes are added to the heap figure, which can still hold garbage
          // of earlier runs in the same pooled isolate (docs/engines.md): bounded, not exact.
          const bound = !quickjs && name === "resizableArrayBuffer" ? 2 * LIMIT : LIMIT;
          assert.ok(peak <= bound, `peak ${peak} > ${bound}`);
        });
      }
    });

    describe("turned off", () => {
      test("WebAssembly: no global, so no module, instance or memory can be made", async () => {
        assert.deepEqual(
          await value(
            runtime,
            "[typeof WebAssembly, Object.getOwnPropertyNames(globalThis).includes('WebAssembly'), 'WebAssembly' in globalThis]",
          ),
          ["undefined", false, false],
        );
        for (const name of [
          "wasmMemory",
          "wasmMemoryInitial",
          "sharedWasmMemory",
          "wasmModuleGrowingItsMemory",
        ] as const) {
          const error = await scriptError(runtime, BOMBS[name]);
          assert.equal(error.guestName, "ReferenceError", name);
          assert.match(error.guestMessage, /WebAssembly/);
        }
      });

      test("growable SharedArrayBuffer: options ignored, no grow; growable and maxByteLength tell the fixed length", async () => {
        const shape = await value(
          runtime,
          "const b = new SharedArrayBuffer(8, { maxByteLength: 2 ** 30 });\n" +
            "[b.byteLength, b.growable, b.maxByteLength, typeof b.grow,\n" +
            " ['grow', 'growable', 'maxByteLength'].filter((k) => k in SharedArrayBuffer.prototype),\n" +
            " Object.getOwnPropertyNames(SharedArrayBuffer.prototype).sort(),\n" +
            " new SharedArrayBuffer(16, { maxByteLength: 4 }).byteLength]",
        );
        assert.deepEqual(shape, [
          8,
          false,
          8,
          "undefined",
          ["growable", "maxByteLength"],
          ["byteLength", "constructor", "growable", "maxByteLength", "slice"],
          16,
        ]);
        const error = await scriptError(runtime, BOMBS.growableSharedArrayBuffer);
        assert.equal(error.guestName, "TypeError");
      });

      test("growable SharedArrayBuffer: no way around it (Reflect, subclasses, new.target, prototypes, other methods)", async () => {
        const lengths = await value(
          runtime,
          "const options = { maxByteLength: 2 ** 20 };\n" +
            "const makers = [\n" +
            "  () => new SharedArrayBuffer(1, options),\n" +
            "  () => Reflect.construct(SharedArrayBuffer, [1, options]),\n" +
            "  () => Reflect.construct(SharedArrayBuffer, [1, options], Object),\n" +
            "  () => new (class extends SharedArrayBuffer { constructor() { super(1, options) } })(),\n" +
            "  () => new (Object.getPrototypeOf(new SharedArrayBuffer(1)).constructor)(1, options),\n" +
            "  () => new SharedArrayBuffer[Symbol.species](1, options),\n" +
            "  () => new SharedArrayBuffer(2, options).slice(1),\n" +
            "];\n" +
            "const growers = [\n" +
            "  (b) => b.grow(2 ** 20),\n" +
            "  (b) => ArrayBuffer.prototype.resize.call(b, 2 ** 20),\n" +
            "  (b) => Object.getOwnPropertyDescriptor(SharedArrayBuffer.prototype, 'grow').value.call(b, 2 ** 20),\n" +
            "  (b) => { for (let p = b; p; p = Object.getPrototypeOf(p)) for (const k of Reflect.ownKeys(p)) { const d = Object.getOwnPropertyDescriptor(p, k); if (typeof d.value === 'function' && k !== 'constructor') try { d.value.call(b, 2 ** 20) } catch {} } },\n" +
            "];\n" +
            "const length = Object.getOwnPropertyDescriptor(SharedArrayBuffer.prototype, 'byteLength').get;\n" +
            "makers.map((make) => { const b = make(); for (const grow of growers) try { grow(b) } catch {} return length.call(b) })",
        );
        assert.deepEqual(lengths, [1, 1, 1, 1, 1, 1, 1]);
      });

      test("the SharedArrayBuffer constructor is the engine's own in every other respect", async () => {
        const facts = await value(
          runtime,
          "const S = SharedArrayBuffer; const b = new S(8);\n" +
            "class Sub extends S {}\n" +
            "const d = Object.getOwnPropertyDescriptor(globalThis, 'SharedArrayBuffer');\n" +
            "const p = Object.getOwnPropertyDescriptor(S, 'prototype');\n" +
            "let called; try { S(8) } catch (e) { called = e.name }\n" +
            "[S.name, S.length, typeof S, S.prototype.constructor === S, b instanceof S, Object.getPrototypeOf(b) === S.prototype,\n" +
            " Object.prototype.toString.call(b), S[Symbol.species] === S, Object.getPrototypeOf(S) === Function.prototype,\n" +
            " new Sub(4) instanceof Sub, new Sub(4).byteLength, Reflect.construct(S, [4], Sub) instanceof Sub, b.slice(2).byteLength,\n" +
            " [d.writable, d.enumerable, d.configurable], [p.writable, p.enumerable, p.configurable], called]",
        );
        assert.deepEqual(facts, [
          "SharedArrayBuffer",
          1,
          "function",
          true,
          true,
          true,
          "[object SharedArrayBuffer]",
          true,
          true,
          true,
          4,
          true,
          6,
          [true, false, true],
          [false, false, false],
          "TypeError",
        ]);
      });
    });

    if (resizable) {
      test("typed arrays and DataViews over resizable buffers behave as on the raw engine", async () => {
        let expected: unknown;
        if (quickjs) {
          const QuickJS = await getQuickJS();
          const raw = QuickJS.newContext();
          try {
            expected = raw.unwrapResult(raw.evalCode(RESIZABLE_TYPED_ARRAYS)).consume((h) => raw.dump(h));
          } finally {
            raw.dispose();
          }
        } else {
          // The host's own V8 is the raw engine here.
          expected = vm.runInNewContext(RESIZABLE_TYPED_ARRAYS);
        }
        assert.equal(await value(runtime, RESIZABLE_TYPED_ARRAYS), expected);
        assert.match(String(expected), /MyBigInt64Array/);
      });

      test("the accounting's own tools stay out of the guest's view", async () => {
        assert.deepEqual(
          await value(
            runtime,
            "[typeof gc, 'cleanupSome' in FinalizationRegistry.prototype, String(ArrayBuffer.prototype.resize) === String(Math.max).replace('max', 'resize'), ArrayBuffer.name, ArrayBuffer.length, Object.getPrototypeOf(new ArrayBuffer(1)).constructor === ArrayBuffer]",
          ),
          ["undefined", false, true, "ArrayBuffer", 1, true],
        );
      });
    }

    test("host RSS stays bounded over a loop of memory-hungry guests", async (t) => {
      const bombs = Object.values(BOMBS);
      const holders = Object.entries(HOLDERS)
        .filter(([name]) => resizable || name !== "resizableArrayBuffer")
        .map(([, source]) => source);
      const loop = [...bombs, ...holders];
      // Warm up: the first runs start sandboxes, compile code and fill caches.
      for (const source of loop.slice(0, 4)) await runtime.run(source);
      const before = treeRss();
      const runs = 40;
      for (let i = 0; i < runs; i++) {
        const result = await runtime.run(loop[i % loop.length]!);
        assert.ok(result.ok || result.error.name !== "EngineError", `run ${i}: ${!result.ok && result.error.message}`);
      }
      // Sandbox processes replaced after a fatal out-of-memory start up in the background.
      await new Promise((resolve) => setTimeout(resolve, 500));
      const after = treeRss();
      const growth = after - before;
      t.diagnostic(
        `${runs} runs: host${quickjs ? "" : " + sandbox processes"} RSS ${(before / MB).toFixed(1)} MB -> ${(after / MB).toFixed(1)} MB`,
      );
      // One uncounted guest alone would hold 1 GB (the bombs grow and write up to 1 GiB).
      assert.ok(growth < 64 * MB, `RSS grew by ${(growth / MB).toFixed(1)} MB`);
    });
  });
}
