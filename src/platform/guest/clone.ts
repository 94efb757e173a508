/**
 * Group `clone`: structuredClone, hand-written after the HTML Standard's
 * StructuredSerialize/Deserialize. @ungap/structured-clone was the candidate,
 * but it throws TypeError rather than DataCloneError, copies whole buffers
 * for views (losing offsets and the sharing of one buffer by several views)
 * and serialises to an intermediate array first.
 */
import type * as Blobs from "./blob.js";
import type * as DomException from "./dom-exception.js";
import { platform } from "./runtime.js";

function dataCloneError(message: string): Error {
  const { DOMException } = platform.require("domexception") as typeof DomException;
  return new DOMException(message, "DataCloneError");
}

const toString = Object.prototype.toString;

const ERROR_NAMES: Record<string, ErrorConstructor> = {
  Error,
  EvalError,
  RangeError,
  ReferenceError,
  SyntaxError,
  TypeError,
  URIError,
};

const TYPED_ARRAYS: Record<string, new (buffer: ArrayBuffer, offset: number, length: number) => ArrayBufferView> = {
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
};

const typedArrayTag = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Int8Array.prototype), Symbol.toStringTag)
  ?.get as (this: unknown) => string | undefined;

/** Brand checks: the intrinsic methods throw for an object that only claims the kind with Symbol.toStringTag. */
const BRANDS: Record<string, (value: object) => unknown> = {
  Boolean: (value) => Boolean.prototype.valueOf.call(value),
  Number: (value) => Number.prototype.valueOf.call(value),
  String: (value) => String.prototype.valueOf.call(value),
  BigInt: (value) => BigInt.prototype.valueOf.call(value),
  Date: (value) => Date.prototype.getTime.call(value),
  RegExp: (value) => Object.getOwnPropertyDescriptor(RegExp.prototype, "source")?.get?.call(value),
  ArrayBuffer: (value) => Object.getOwnPropertyDescriptor(ArrayBuffer.prototype, "byteLength")?.get?.call(value),
  DataView: (value) => Object.getOwnPropertyDescriptor(DataView.prototype, "byteLength")?.get?.call(value),
  Map: (value) => Map.prototype.has.call(value, undefined),
  Set: (value) => Set.prototype.has.call(value, undefined),
};

/** What a value really is: its typed-array name, or its toStringTag when the brand check agrees, else "Object". */
function kindOf(value: object): string {
  const typed = typedArrayTag.call(value);
  if (typed !== undefined) return typed;
  if (Array.isArray(value)) return "Array";
  const kind = toString.call(value).slice(8, -1);
  if (kind === "Array") return "Object";
  const brand = BRANDS[kind];
  if (brand) {
    try {
      brand(value);
    } catch {
      return "Object";
    }
  }
  return kind;
}

function cloneBuffer(buffer: ArrayBuffer): ArrayBuffer {
  if ((buffer as { detached?: boolean }).detached === true)
    throw dataCloneError("An ArrayBuffer is detached and could not be cloned.");
  return buffer.slice(0);
}

function clone(value: unknown, memory: Map<object, unknown>): unknown {
  if (typeof value === "symbol") throw dataCloneError(`${String(value)} could not be cloned.`);
  if (typeof value === "function") throw dataCloneError(`${describe(value)} could not be cloned.`);
  if (typeof value !== "object" || value === null) return value;
  const seen = memory.get(value);
  if (seen !== undefined) return seen;
  const kind = kindOf(value);
  const blobs = platform.loaded("blob") as typeof Blobs | undefined;
  if (blobs?.isBlob(value)) {
    const copy = blobs.cloneBlob(value);
    memory.set(value, copy);
    return copy;
  }
  let copy: unknown;
  switch (kind) {
    case "Boolean":
      copy = Object(Boolean.prototype.valueOf.call(value));
      break;
    case "Number":
      copy = Object(Number.prototype.valueOf.call(value));
      break;
    case "String":
      copy = Object(String.prototype.valueOf.call(value));
      break;
    case "BigInt":
      copy = Object(BigInt.prototype.valueOf.call(value));
      break;
    case "Date":
      copy = new Date(Date.prototype.getTime.call(value));
      break;
    case "RegExp": {
      const re = value as RegExp;
      copy = new RegExp(re.source, re.flags);
      break;
    }
    case "ArrayBuffer":
      copy = cloneBuffer(value as ArrayBuffer);
      break;
    case "SharedArrayBuffer":
      throw dataCloneError("A SharedArrayBuffer could not be cloned here.");
    case "DataView": {
      const view = value as DataView;
      const buffer = clone(view.buffer, memory) as ArrayBuffer;
      copy = new DataView(buffer, view.byteOffset, view.byteLength);
      break;
    }
    case "Map": {
      const map = new Map();
      memory.set(value, map);
      for (const [k, v] of [...(value as Map<unknown, unknown>)]) map.set(clone(k, memory), clone(v, memory));
      return map;
    }
    case "Set": {
      const set = new Set();
      memory.set(value, set);
      for (const v of [...(value as Set<unknown>)]) set.add(clone(v, memory));
      return set;
    }
    case "Array": {
      const array = new Array((value as unknown[]).length);
      memory.set(value, array);
      for (const key of Object.keys(value))
        (array as unknown as Record<string, unknown>)[key] = clone((value as Record<string, unknown>)[key], memory);
      return array;
    }
    case "Error": {
      const error = value as Error;
      const name = String(error.name);
      const Constructor = ERROR_NAMES[name] ?? Error;
      const copyError = Object.create(Constructor.prototype) as Error;
      memory.set(value, copyError);
      const message = Object.getOwnPropertyDescriptor(error, "message");
      if (message && "value" in message) {
        Object.defineProperty(copyError, "message", {
          value: String(message.value),
          writable: true,
          configurable: true,
        });
      }
      if (typeof error.stack === "string") {
        Object.defineProperty(copyError, "stack", { value: error.stack, writable: true, configurable: true });
      }
      if (Object.prototype.hasOwnProperty.call(error, "cause")) {
        Object.defineProperty(copyError, "cause", {
          value: clone(error.cause, memory),
          writable: true,
          configurable: true,
        });
      }
      return copyError;
    }
    default: {
      const Typed = TYPED_ARRAYS[kind];
      if (Typed && ArrayBuffer.isView(value)) {
        const view = value as unknown as { buffer: ArrayBuffer; byteOffset: number; length: number };
        const buffer = clone(view.buffer, memory) as ArrayBuffer;
        copy = new Typed(buffer, view.byteOffset, view.length);
        break;
      }
      if (UNCLONEABLE.has(kind) || value instanceof Promise || value instanceof WeakMap || value instanceof WeakSet) {
        throw dataCloneError(`${describe(value)} could not be cloned.`);
      }
      return plainObject(value, memory);
    }
  }
  memory.set(value, copy);
  return copy;
}

/** Built-in kinds V8's serializer refuses; everything else that is not special clones as a plain object. */
const UNCLONEABLE = new Set([
  "Promise",
  "WeakMap",
  "WeakSet",
  "WeakRef",
  "FinalizationRegistry",
  "Generator",
  "AsyncGenerator",
  "Function",
  "AsyncFunction",
  "GeneratorFunction",
  "AsyncGeneratorFunction",
]);

function plainObject(value: object, memory: Map<object, unknown>): Record<string, unknown> {
  const object: Record<string, unknown> = {};
  memory.set(value, object);
  for (const key of Object.keys(value)) object[key] = clone((value as Record<string, unknown>)[key], memory);
  return object;
}

function describe(value: unknown): string {
  if (typeof value === "function") return `${value.toString().slice(0, 60)}`;
  if (typeof value === "object" && value !== null) return `#<${toString.call(value).slice(8, -1)}>`;
  return String(value);
}

/** structuredClone(value, { transfer }): transferred ArrayBuffers are copied, and detached where the engine can. */
export function structuredClone(value: unknown, options: unknown = undefined): unknown {
  if (arguments.length === 0) throw new TypeError('The "value" argument must be specified');
  const memory = new Map<object, unknown>();
  const transfer = (options as { transfer?: unknown } | undefined)?.transfer;
  const transferred: ArrayBuffer[] = [];
  if (transfer !== undefined) {
    for (const item of transfer as Iterable<unknown>) {
      if (typeof item !== "object" || item === null) throw new TypeError("Found invalid value in transferList");
      if (!(item instanceof ArrayBuffer)) throw dataCloneError("Value not transferable");
      if (transferred.includes(item)) throw dataCloneError("Transfer list contains duplicate");
      transferred.push(item);
    }
  }
  const result = clone(value, memory);
  // The clone holds copies; detach the originals where the engine can (ArrayBuffer.prototype.transfer).
  for (const buffer of transferred) {
    const withTransfer = buffer as ArrayBuffer & { transfer?: () => ArrayBuffer };
    if (typeof withTransfer.transfer === "function") withTransfer.transfer();
  }
  return result;
}
