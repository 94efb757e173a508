/**
 * What a memory snapshot of a prepared QuickJS sandbox needs besides the
 * memory itself (see `SandboxHost`): the JS-side state quickjs-emscripten
 * 0.32 keeps about the runtime and context, and where QuickJS keeps the
 * context's `Math.random` state.
 */
import type { QuickJSContext, QuickJSRuntime, QuickJSWASMModule } from "quickjs-emscripten";

/** Puts the library's JS-side state back as it was when captured. */
export interface LibraryState {
  restore(): void;
}

/** quickjs-emscripten 0.32's internals a snapshot restores (see quickjs-emscripten-core's QuickJSRuntime and QuickJSContext). */
interface ScopeInternals {
  readonly _disposables: { readonly value: Set<unknown> };
}
interface HostRefMapInternals {
  nextId: number;
  freelist: number[];
  readonly groups: Map<number, Map<number, unknown>>;
}
interface RuntimeInternals {
  readonly scope: ScopeInternals;
  readonly contextMap: Map<number, unknown>;
  readonly hostRefs: HostRefMapInternals;
  interruptHandler: unknown;
  moduleLoader: unknown;
  moduleNormalizer: unknown;
}
interface ContextInternals {
  readonly memory: { readonly scope: ScopeInternals };
  readonly ctx: { readonly value: number };
  [field: string]: unknown;
}
interface ModuleInternals {
  readonly callbacks: {
    readonly contextCallbacks: Map<number, unknown>;
    readonly runtimeCallbacks: Map<number, unknown>;
  };
}

/** Handles the context creates on first use and keeps (`ctx.global`, `Symbol`...). */
const CACHED_FIELDS = [
  "_undefined",
  "_null",
  "_false",
  "_true",
  "_global",
  "_BigInt",
  "_Symbol",
  "_SymbolIterator",
  "_SymbolAsyncIterator",
] as const;

function isMap(value: unknown): value is Map<unknown, unknown> {
  return value instanceof Map;
}
function isSet(value: unknown): value is Set<unknown> {
  return value instanceof Set;
}

function copyMap<K, V>(map: Map<K, V>): () => void {
  const entries = [...map];
  return () => {
    map.clear();
    for (const [key, value] of entries) map.set(key, value);
  };
}
function copySet<T>(set: Set<T>): () => void {
  const values = [...set];
  return () => {
    set.clear();
    for (const value of values) set.add(value);
  };
}

/**
 * Captures every map, set and cache quickjs-emscripten keeps about `runtime`
 * and `context` (its only context): contexts and callbacks by pointer, host
 * functions by id, lifetimes its scopes will free, cached handles. Restoring
 * it makes the wrappers agree with memory restored from the same moment.
 * Undefined when the library does not have the internals expected.
 */
export function captureLibraryState(
  module: QuickJSWASMModule,
  runtime: QuickJSRuntime,
  context: QuickJSContext,
): LibraryState | undefined {
  const rt = runtime as unknown as Partial<RuntimeInternals>;
  const ctx = context as unknown as Partial<ContextInternals>;
  const callbacks = (module as unknown as Partial<ModuleInternals>).callbacks;
  const hostRefs = rt.hostRefs;
  const runtimeScope = rt.scope?._disposables?.value;
  const contextScope = ctx.memory?.scope?._disposables?.value;
  if (
    !isMap(rt.contextMap) ||
    !hostRefs ||
    typeof hostRefs.nextId !== "number" ||
    !Array.isArray(hostRefs.freelist) ||
    !isMap(hostRefs.groups) ||
    !isSet(runtimeScope) ||
    !isSet(contextScope) ||
    !isMap(callbacks?.contextCallbacks) ||
    !isMap(callbacks.runtimeCallbacks) ||
    !CACHED_FIELDS.every((field) => field in ctx)
  ) {
    return undefined;
  }
  const restores = [
    copyMap(rt.contextMap),
    copySet(runtimeScope),
    copySet(contextScope),
    copyMap(callbacks.contextCallbacks),
    copyMap(callbacks.runtimeCallbacks),
  ];
  const nextId = hostRefs.nextId;
  const freelist = [...hostRefs.freelist];
  const groups = [...hostRefs.groups].map(([id, group]) => [id, [...group]] as const);
  const cached = CACHED_FIELDS.map((field) => [field, ctx[field]] as const);
  const handlers = [rt.interruptHandler, rt.moduleLoader, rt.moduleNormalizer] as const;
  const target = rt as RuntimeInternals;
  const fields = ctx as ContextInternals;
  return {
    restore() {
      for (const restore of restores) restore();
      hostRefs.nextId = nextId;
      hostRefs.freelist = [...freelist];
      hostRefs.groups.clear();
      for (const [id, group] of groups) hostRefs.groups.set(id, new Map(group));
      for (const [field, value] of cached) fields[field] = value;
      [target.interruptHandler, target.moduleLoader, target.moduleNormalizer] = handlers;
    },
  };
}

const MASK_64 = (1n << 64n) - 1n;

/** QuickJS's `Math.random` step (xorshift64*), on the state. */
function xorshift64(state: bigint): bigint {
  let x = state;
  x ^= x >> 12n;
  x = (x ^ (x << 25n)) & MASK_64;
  x ^= x >> 27n;
  return x;
}

/** How far into its JSContext QuickJS could keep the random state. */
const CONTEXT_SCAN_BYTES = 4096;

/**
 * Finds the address of `context`'s `Math.random` state (a 64-bit word of the
 * JSContext that one call of `Math.random` moves by exactly one xorshift64*
 * step), by calling it once. Call only before the guest ever runs in the
 * context. Undefined when no single word moved that way.
 */
export function findRandomState(memory: { readonly buffer: ArrayBuffer }, context: QuickJSContext): number | undefined {
  const base = (context as unknown as Partial<ContextInternals>).ctx?.value;
  if (typeof base !== "number" || base % 8 !== 0) return undefined;
  const read = () => {
    const view = new DataView(memory.buffer);
    const end = Math.min(view.byteLength, base + CONTEXT_SCAN_BYTES);
    const words: bigint[] = [];
    for (let at = base; at + 8 <= end; at += 8) words.push(view.getBigUint64(at, true));
    return words;
  };
  const before = read();
  const called = context.evalCode("Math.random()", "warden:probe", { type: "global" });
  if (called.error) {
    called.error.dispose();
    return undefined;
  }
  called.value.dispose();
  const after = read();
  const found: number[] = [];
  for (let i = 0; i < before.length && i < after.length; i++) {
    if (before[i] !== 0n && after[i] === xorshift64(before[i]!)) found.push(base + i * 8);
  }
  return found.length === 1 ? found[0] : undefined;
}
