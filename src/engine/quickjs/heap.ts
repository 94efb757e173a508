import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import {
  newQuickJSWASMModuleFromVariant,
  newVariant,
  RELEASE_SYNC,
  type QuickJSContext,
  type QuickJSHandle,
  type QuickJSRuntime,
  type QuickJSWASMModule,
} from "quickjs-emscripten";

const PAGE_BYTES = 65536;
/** The release-sync build declares 256 to 32768 pages of memory (16 MiB to 2 GiB). */
const INITIAL_PAGES = 256;
const MAXIMUM_PAGES = 32768;
/** The most memory a QuickJS sandbox can ever have: the build's WebAssembly memory maximum. */
export const HEAP_CEILING_BYTES = MAXIMUM_PAGES * PAGE_BYTES;
/** Ballast is allocated in blocks of this size. */
const BALLAST_BLOCK = 256 * 1024;
/** Free heap left between runs for the next sandbox's runtime, context and prelude. */
const RESERVE_BYTES = 2 * BALLAST_BLOCK;
/** Growth granted once a run's budget is spent, so that QuickJS can build its error and unwind. */
const EMERGENCY_BYTES = 1024 * 1024;

/** Thrown by the growth gate to refuse growth; emscripten catches it and reports allocation failure. */
const GROWTH_REFUSED = Object.freeze(new RangeError("the sandbox heap budget is spent"));

/** The parts of the WebAssembly API used here (the project's type libraries do not declare them). */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
const Wasm = (
  globalThis as unknown as {
    WebAssembly: {
      Memory: new (descriptor: { initial: number; maximum: number }) => WasmMemory;
      compile(bytes: Uint8Array): Promise<object>;
      instantiate(module: object, imports: object): Promise<object>;
    };
  }
).WebAssembly;

let compiled: Promise<object> | undefined;

/**
 * Finds emscripten's `emscripten_resize_heap` among the module's imports (the
 * one import that grows the memory; its name is minified) and reports the
 * heap size malloc needs each time it is called, before emscripten adds its
 * own 5-20% of slack. Without it, the gate cannot tell a request that fits
 * the budget from one that does not, and refuses both.
 */
function watchResize(
  imports: Record<string, Record<string, unknown>>,
  report: (need: number) => void,
  failed: () => void,
): void {
  const candidates: [Record<string, unknown>, string][] = [];
  for (const group of Object.values(imports)) {
    for (const [name, value] of Object.entries(group)) {
      if (typeof value === "function" && /\.grow\(/.test(Function.prototype.toString.call(value))) {
        candidates.push([group, name]);
      }
    }
  }
  if (candidates.length !== 1) return;
  const [group, name] = candidates[0]!;
  const resize = group[name] as (requested: number) => unknown;
  group[name] = (requested: number) => {
    report(requested >>> 0);
    const grown = resize(requested);
    // Requests beyond the module's 2 GiB are refused before the memory is even asked.
    if (!grown) failed();
    return grown;
  };
}

/**
 * Compiles the QuickJS WebAssembly module once per thread. The engine
 * compiles it on the main thread (asynchronously, off the event loop) and
 * hands the compiled module to every worker: V8 then shares the machine
 * code, workers start faster, and none of them stalls for ~100 ms when V8
 * tiers its own copy up to optimised code.
 */
export function compileQuickJS(): Promise<object> {
  compiled ??= (async () => {
    // The wasm file belongs to the variant package that quickjs-emscripten depends on.
    const fromQuickJS = createRequire(createRequire(import.meta.url).resolve("quickjs-emscripten"));
    const bytes = await readFile(fromQuickJS.resolve("@jitl/quickjs-wasmfile-release-sync/wasm"));
    return Wasm.compile(bytes);
  })();
  compiled.catch(() => (compiled = undefined));
  return compiled;
}

/** The build's C stack (emscripten's STACK_SIZE), in linear memory just below the heap. */
const C_STACK_BYTES = 5 * 1024 * 1024;

let stackRead: Promise<readonly [number, number] | undefined> | undefined;

/**
 * The range of linear memory the build keeps its C stack in, read from the
 * WebAssembly file: the stack pointer's initial value (the module's first
 * global, the stack's top) and the 5 MiB below it. Between calls nothing
 * there is live. Undefined when the file does not look as expected (the
 * stack is then copied with the rest).
 */
export function cStackRange(): Promise<readonly [number, number] | undefined> {
  stackRead ??= (async () => {
    try {
      const fromQuickJS = createRequire(createRequire(import.meta.url).resolve("quickjs-emscripten"));
      return parseStackRange(await readFile(fromQuickJS.resolve("@jitl/quickjs-wasmfile-release-sync/wasm")));
    } catch {
      return undefined;
    }
  })();
  return stackRead;
}

function parseStackRange(bytes: Uint8Array): readonly [number, number] | undefined {
  let at = 8;
  const unsigned = (): number => {
    let value = 0;
    let shift = 0;
    let byte: number;
    do {
      byte = bytes[at++]!;
      value += (byte & 0x7f) * 2 ** shift;
      shift += 7;
    } while (byte & 0x80);
    return value;
  };
  const signed = (): number => {
    let value = 0;
    let shift = 0;
    let byte: number;
    do {
      byte = bytes[at++]!;
      value |= (byte & 0x7f) << shift;
      shift += 7;
    } while (byte & 0x80);
    return shift < 32 && byte & 0x40 ? value | (-1 << shift) : value;
  };
  let top: number | undefined;
  let dataEnd = 0;
  while (at < bytes.length) {
    const id = bytes[at++]!;
    const size = unsigned();
    const end = at + size;
    if (id === 6 && unsigned() > 0) {
      // The first global: a mutable i32 initialised by a constant (emscripten's __stack_pointer).
      const [type, mutable, op] = [bytes[at++], bytes[at++], bytes[at++]];
      if (type === 0x7f && mutable === 1 && op === 0x41) top = signed();
    } else if (id === 11) {
      for (let count = unsigned(); count > 0; count--) {
        if (unsigned() !== 0 || bytes[at++] !== 0x41) return undefined;
        const offset = signed();
        at++;
        const length = unsigned();
        dataEnd = Math.max(dataEnd, offset + length);
        at += length;
      }
    }
    at = end;
  }
  if (top === undefined) return undefined;
  const bottom = top - C_STACK_BYTES;
  // The static data (and its zeroed part after it, a few KiB) lie just below the stack: a stack
  // smaller than assumed would leave a gap of at least a MiB there, and is then not skipped.
  if (bottom < dataEnd || bottom - dataEnd > 64 * 1024) return undefined;
  return [bottom, top];
}

interface Allocator {
  _malloc(size: number): number;
  _free(pointer: number): void;
}

/**
 * A copy of the module's memory as it was at one moment between calls (see
 * {@link QuickJSHeap.snapshot}): every byte except the contents of the ballast
 * blocks, which nothing reads, and of the C stack below its top, which is dead
 * between calls.
 */
export interface HeapSnapshot {
  /** Memory size when the copy was taken. */
  readonly bytes: number;
  /** Start and end of each copied range, in order. */
  readonly ranges: Uint32Array;
  /** The copied ranges, back to back. */
  readonly data: Uint8Array;
  /** Ballast blocks held at the time (the first this many of the heap's list). */
  readonly ballast: number;
}

/** What {@link QuickJSHeap.executePendingJobs} returns: the number of jobs run, or the error the last one threw. */
export type PendingJobsResult = { value: number; error?: undefined } | { error: QuickJSHandle; value?: undefined };

/** The quickjs-emscripten 0.32 internals {@link QuickJSHeap.executePendingJobs} needs: the runtime's and context's C pointers. */
interface RuntimeInternals {
  readonly rt: { readonly value: number };
}
interface ContextInternals {
  readonly ctx: { readonly value: number };
}

/**
 * One instance of the QuickJS WebAssembly module with a metered heap.
 *
 * QuickJS's own memory limit (`JS_SetMemoryLimit`) cannot meter this build:
 * without `malloc_usable_size` it counts 8 bytes per allocation, so it only
 * refuses single allocations larger than the limit while the heap grows
 * without bound. The budget is enforced one level down instead:
 *
 * - The instance runs on a `WebAssembly.Memory` whose `grow` passes through a
 *   gate. During a run the gate lets the memory grow by at most the run's
 *   budget; past it, growth fails, `malloc` returns NULL and QuickJS throws
 *   its "out of memory" error, which the prelude makes terminal.
 * - Free heap inside the memory would be a budget on top of the budget, so
 *   it is filled with ballast blocks, leaving only a small reserve for the
 *   next sandbox's own runtime and prelude. After a run that grew the memory,
 *   the newly freed space is filled again.
 *
 * A run can therefore hold its budget plus at most the reserve (512 KiB),
 * never more, whatever it allocates and however (objects, strings, array
 * buffers, native code). Memory never shrinks, so an instance that grew past
 * {@link QuickJSHeap.retireAboveBytes} is retired by its owner and replaced.
 */
export class QuickJSHeap {
  readonly module: QuickJSWASMModule;
  readonly memory: WasmMemory;
  private readonly allocator: Allocator;
  private readonly ballast: number[] = [];
  /** Byte size the memory may grow to; the gate refuses anything larger. */
  private capBytes = HEAP_CEILING_BYTES;
  /** Memory size when the ballast was last topped up. */
  private settledBytes = 0;
  /** True while the heap fills itself with ballast (refusals then are expected). */
  private filling = false;
  /** Called when the memory grows, with its new size. */
  onGrow: ((bytes: number) => void) | undefined;
  /** Called when the gate refuses to grow the memory: an allocation failed for want of budget. */
  onRefuse: (() => void) | undefined;
  /** True once the gate refused growth to a run; a heap QuickJS ran out of is retired after the run. */
  exhausted = false;

  /** Instances larger than this after a run are replaced, to give the memory back to the host. */
  static retireAboveBytes = 64 * 1024 * 1024;

  private constructor(module: QuickJSWASMModule, memory: WasmMemory, allocator: Allocator) {
    this.module = module;
    this.memory = memory;
    this.allocator = allocator;
  }

  /** Instantiates a fresh module (from `compiled`, else compiled here) with a gated memory and fills its free heap with ballast. */
  static async create(compiled?: object): Promise<QuickJSHeap> {
    const memory = new Wasm.Memory({ initial: INITIAL_PAGES, maximum: MAXIMUM_PAGES });
    // Filled in once the module is up: the gate refuses nothing while QuickJS initialises.
    const found: { heap?: QuickJSHeap; allocator?: Allocator; need?: number } = {};
    const grow = memory.grow.bind(memory);
    Object.defineProperty(memory, "grow", {
      value: (pages: number): number => {
        const heap = found.heap;
        const current = memory.buffer.byteLength;
        let next = current + pages * PAGE_BYTES;
        if (heap && next > heap.capBytes) {
          // Emscripten asks for 5-20% more than malloc needs. When what malloc needs fits in the
          // budget, grow to the budget's edge instead of refusing (the need is known when the
          // resize hook below was found; otherwise the last few percent of a budget can go unused).
          const edge = Math.floor(heap.capBytes / PAGE_BYTES) * PAGE_BYTES;
          if (found.need === undefined || found.need > edge || edge <= current) {
            heap.refuse();
            throw GROWTH_REFUSED;
          }
          next = edge;
        }
        const previous = grow((next - current) / PAGE_BYTES);
        heap?.onGrow?.(memory.buffer.byteLength);
        return previous;
      },
    });
    const wasmModule = compiled ?? (await compileQuickJS());
    const variant = newVariant(RELEASE_SYNC, {
      wasmMemory: memory as never,
      emscriptenModule: {
        instantiateWasm(imports: Record<string, Record<string, unknown>>, onSuccess: (instance: object) => void) {
          watchResize(
            imports,
            (need) => (found.need = need),
            () => found.heap?.refuse(),
          );
          void Wasm.instantiate(wasmModule, imports).then(onSuccess);
          return {};
        },
        // Emscripten calls this as a method of the module object, which carries _malloc and _free.
        onRuntimeInitialized(this: Allocator) {
          Object.assign(found, { allocator: this });
        },
      } as never,
    });
    const module = await newQuickJSWASMModuleFromVariant(variant);
    const { allocator } = found;
    if (!allocator || typeof allocator._malloc !== "function" || typeof allocator._free !== "function") {
      throw new Error("the QuickJS module does not expose its allocator");
    }
    const heap = new QuickJSHeap(module, memory, allocator);
    found.heap = heap;
    heap.fill();
    return heap;
  }

  /**
   * Copies the memory, between calls and with the heap settled (ballast
   * filled), for {@link restore}. `skip` is a range not to copy (the dead
   * C stack), if known.
   */
  snapshot(skip?: readonly [number, number]): HeapSnapshot {
    const holes: [number, number][] = [...this.ballast]
      .sort((a, b) => a - b)
      // A block's chunk header (8 bytes before it) and last 8 bytes are allocator
      // metadata its neighbours may rewrite: those are copied, only the body between is not.
      .map((pointer): [number, number] => [pointer + 8, pointer + BALLAST_BLOCK - 8]);
    if (skip) holes.push([skip[0], skip[1]]);
    holes.sort((a, b) => a[0] - b[0]);
    const ranges: number[] = [];
    let at = 0;
    for (const [start, end] of holes) {
      if (start > at) ranges.push(at, start);
      at = Math.max(at, end);
    }
    const bytes = this.bytes;
    if (bytes > at) ranges.push(at, bytes);
    let size = 0;
    for (let i = 0; i < ranges.length; i += 2) size += ranges[i + 1]! - ranges[i]!;
    const data = new Uint8Array(size);
    const memory = new Uint8Array(this.memory.buffer);
    let offset = 0;
    for (let i = 0; i < ranges.length; i += 2) {
      data.set(memory.subarray(ranges[i]!, ranges[i + 1]!), offset);
      offset += ranges[i + 1]! - ranges[i]!;
    }
    return { bytes, ranges: Uint32Array.from(ranges), data, ballast: this.ballast.length };
  }

  /**
   * Puts a {@link snapshot} back, between calls: the allocator, QuickJS's runtime and
   * context and everything in them are again as they were when it was taken. Memory
   * a run grew stays (WebAssembly memory cannot shrink) and is filled with ballast
   * again, as after any run; the caller then takes a new snapshot. Returns false when
   * the instance should be retired instead (as {@link refill}).
   */
  restore(snapshot: HeapSnapshot): "same" | "grown" | false {
    if (this.exhausted || this.bytes > QuickJSHeap.retireAboveBytes || this.bytes < snapshot.bytes) return false;
    const { ranges, data } = snapshot;
    const memory = new Uint8Array(this.memory.buffer);
    let offset = 0;
    for (let i = 0; i < ranges.length; i += 2) {
      const length = ranges[i + 1]! - ranges[i]!;
      memory.set(data.subarray(offset, offset + length), ranges[i]!);
      offset += length;
    }
    this.ballast.length = snapshot.ballast;
    this.settledBytes = snapshot.bytes;
    this.capBytes = HEAP_CEILING_BYTES;
    if (this.bytes === snapshot.bytes) return "same";
    // The allocator, as restored, does not know the memory the run grew: fill it, or it would be
    // free budget for the next run.
    this.fill();
    return "grown";
  }

  /** Current size of the WebAssembly memory, in bytes. */
  get bytes(): number {
    return this.memory.buffer.byteLength;
  }

  /**
   * `runtime.executePendingJobs()` of quickjs-emscripten, minus its bug on a heap that grows.
   *
   * The library reads the context of the last job through an `Int32Array` it made on the
   * memory's buffer *before* the jobs ran. When a job grows the WebAssembly memory (on this
   * heap, any job that allocates more than the small free reserve: compiling a large eval, a
   * platform group loaded on first use...), that buffer is detached, the read gives
   * `undefined`, the library does not find the context in its map and calls
   * `runtime.newContext({ contextPointer: undefined })`, which makes a whole new JSContext
   * that nobody frees. `JS_FreeRuntime` then aborts on the leak check
   * (`list_empty(&rt->gc_obj_list)`) and the module has to be replaced.
   * Here the pointer is read through a view of the memory as it is after the jobs ran.
   * `context` is the runtime's only context, which every job of a sandbox runs in.
   */
  executePendingJobs(runtime: QuickJSRuntime, context: QuickJSContext): PendingJobsResult {
    const ffi = this.module.getFFI();
    const rt = (runtime as unknown as RuntimeInternals).rt.value as never;
    // A refused growth marks the run out of memory and opens the emergency room: a second try fits.
    const out = this.allocator._malloc(4) || this.allocator._malloc(4);
    if (out === 0) throw new Error("no heap left to run the sandbox's pending jobs");
    let valuePointer: number;
    let contextPointer: number;
    try {
      new Int32Array(this.memory.buffer, out, 1)[0] = 0;
      valuePointer = ffi.QTS_ExecutePendingJob(rt, -1, out as never) as number;
      contextPointer = new Int32Array(this.memory.buffer, out, 1)[0]!;
    } finally {
      this.allocator._free(out);
    }
    if (contextPointer === 0) {
      // No job ran: the value (the count, 0) was made without a context.
      ffi.QTS_FreeValuePointerRuntime(rt, valuePointer as never);
      return { value: 0 };
    }
    const result = context.getMemory(rt).heapValueHandle(valuePointer as never);
    if (contextPointer !== (context as unknown as ContextInternals).ctx.value) {
      result.dispose();
      throw new Error("a pending job ran in a context the sandbox does not know");
    }
    if (context.typeof(result) !== "number") return { error: result };
    const executed = context.getNumber(result);
    result.dispose();
    return { value: executed };
  }

  /** An allocation could not get memory: the run's budget, or the module's, is spent. */
  private refuse(): void {
    if (this.filling) return;
    if (!this.exhausted) {
      this.exhausted = true;
      // QuickJS still has to build its "out of memory" error and unwind: give it room for that.
      this.capBytes = Math.min(HEAP_CEILING_BYTES, this.capBytes + EMERGENCY_BYTES);
    }
    this.onRefuse?.();
  }

  /** Lets the memory grow by `budgetBytes` from now on (a run starts). */
  openBudget(budgetBytes: number): void {
    this.capBytes = Math.min(HEAP_CEILING_BYTES, this.bytes + Math.max(0, budgetBytes));
  }

  /** Lets the memory grow without a budget (between runs, for the host's own work). */
  lift(): void {
    this.capBytes = HEAP_CEILING_BYTES;
  }

  /**
   * After a run (its runtime disposed): fills whatever the run grew the heap
   * by with ballast again. Returns false when the instance should be retired.
   */
  refill(): boolean {
    // QuickJS's recovery from a failed allocation is not trusted beyond the run that caused it.
    if (this.exhausted || this.bytes > QuickJSHeap.retireAboveBytes) return false;
    if (this.bytes > this.settledBytes) this.fill();
    return true;
  }

  /** Fills the free heap with ballast blocks, then frees the last few so that the reserve stays free. */
  private fill(): void {
    this.capBytes = this.bytes;
    this.filling = true;
    const added: number[] = [];
    try {
      for (;;) {
        const pointer = this.allocator._malloc(BALLAST_BLOCK);
        if (pointer === 0) break;
        added.push(pointer);
      }
    } finally {
      const release = Math.min(added.length, Math.ceil(RESERVE_BYTES / BALLAST_BLOCK));
      for (let i = 0; i < release; i++) this.allocator._free(added.pop()!);
      this.ballast.push(...added);
      this.settledBytes = this.bytes;
      this.capBytes = HEAP_CEILING_BYTES;
      this.filling = false;
    }
  }
}
