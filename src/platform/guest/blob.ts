/**
 * Group `blob`: Blob, File and FormData, hand-written: the npm versions
 * (fetch-blob, formdata-polyfill) reach for node:stream or install globals
 * of their own. A Blob keeps its bytes in one immutable Uint8Array.
 */
import type * as Encoding from "./encoding.js";
import type * as Streams from "./streams.js";
import { iteratorKind, platform, tag } from "./runtime.js";

function encoding(): typeof Encoding {
  return platform.require("encoding") as typeof Encoding;
}

const contents = new WeakMap<object, { bytes: Uint8Array; type: string }>();

function blobState(self: unknown): { bytes: Uint8Array; type: string } {
  const found = typeof self === "object" && self !== null ? contents.get(self) : undefined;
  if (!found) throw new TypeError("Illegal invocation");
  return found;
}

/** The bytes of a Blob made by this group (for Response bodies and structuredClone). */
export function blobBytes(blob: Blob): Uint8Array {
  return blobState(blob).bytes;
}

/** Whether `value` is a Blob (or File) of this group. */
export function isBlob(value: unknown): value is Blob {
  return typeof value === "object" && value !== null && contents.has(value);
}

/** A Blob's type: lowercased, or "" if it has a character outside U+0020..U+007E. */
function normalizeType(type: unknown): string {
  const text = type === undefined ? "" : String(type);
  return /^[\x20-\x7e]*$/.test(text) ? text.toLowerCase() : "";
}

function partBytes(part: unknown, endings: string): Uint8Array {
  if (isBlob(part)) return blobState(part).bytes;
  if (part instanceof ArrayBuffer || ArrayBuffer.isView(part)) return encoding().bytesOf(part).slice();
  let text = String(part);
  if (endings === "native") text = text.replace(/\r\n|\r/g, "\n");
  return encoding().utf8Encode(text);
}

/** Blob: immutable bytes with a MIME type. */
export class Blob {
  constructor(parts: unknown = [], options: unknown = {}) {
    if (parts !== undefined && (typeof parts !== "object" || parts === null || !(Symbol.iterator in parts))) {
      throw new TypeError('The "blobParts" argument must be a sequence');
    }
    const o = (options ?? {}) as { type?: unknown; endings?: unknown };
    const endings = o.endings === undefined ? "transparent" : String(o.endings);
    if (endings !== "transparent" && endings !== "native") {
      throw new TypeError(`The provided value '${endings}' is not a valid enum value of type EndingType.`);
    }
    const chunks: Uint8Array[] = [];
    let size = 0;
    for (const part of (parts ?? []) as Iterable<unknown>) {
      const bytes = partBytes(part, endings);
      chunks.push(bytes);
      size += bytes.length;
    }
    const bytes = new Uint8Array(size);
    let offset = 0;
    for (const chunk of chunks) {
      bytes.set(chunk, offset);
      offset += chunk.length;
    }
    contents.set(this, { bytes, type: normalizeType(o.type) });
  }

  get size(): number {
    return blobState(this).bytes.length;
  }

  get type(): string {
    return blobState(this).type;
  }

  slice(start?: number, end?: number, contentType?: string): Blob {
    const { bytes } = blobState(this);
    const size = bytes.length;
    const clamp = (value: number | undefined, fallback: number) => {
      if (value === undefined) return fallback;
      const n = Math.trunc(Number(value)) || 0;
      return n < 0 ? Math.max(size + n, 0) : Math.min(n, size);
    };
    const from = clamp(start, 0);
    const to = clamp(end, size);
    const blob = new Blob();
    contents.set(blob, { bytes: bytes.slice(from, Math.max(from, to)), type: normalizeType(contentType) });
    return blob;
  }

  text(): Promise<string> {
    try {
      return Promise.resolve(new (encoding().TextDecoder)().decode(blobState(this).bytes));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  arrayBuffer(): Promise<ArrayBuffer> {
    try {
      return Promise.resolve(blobState(this).bytes.slice().buffer);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  bytes(): Promise<Uint8Array> {
    try {
      return Promise.resolve(blobState(this).bytes.slice());
    } catch (error) {
      return Promise.reject(error);
    }
  }

  stream(): ReadableStream<Uint8Array> {
    const { bytes } = blobState(this);
    const { ReadableStream } = platform.require("streams") as typeof Streams;
    let offset = 0;
    const CHUNK = 65536;
    return new ReadableStream<Uint8Array>({
      type: "bytes",
      pull(controller) {
        if (offset >= bytes.length) {
          controller.close();
          controller.byobRequest?.respond(0);
          return;
        }
        const end = Math.min(bytes.length, offset + CHUNK);
        controller.enqueue(bytes.slice(offset, end));
        offset = end;
      },
    }) as unknown as ReadableStream<Uint8Array>;
  }
}
tag(Blob, "Blob");

const files = new WeakMap<object, { name: string; lastModified: number }>();

function fileState(self: unknown): { name: string; lastModified: number } {
  const found = typeof self === "object" && self !== null ? files.get(self) : undefined;
  if (!found) throw new TypeError("Illegal invocation");
  return found;
}

/** File: a Blob with a name and a modification time. */
export class File extends Blob {
  constructor(parts: unknown, name: unknown, options: unknown = {}) {
    if (arguments.length < 2) throw new TypeError('The "fileBits" and "fileName" arguments must be specified');
    super(parts, options);
    const o = (options ?? {}) as { lastModified?: unknown };
    const lastModified = o.lastModified === undefined ? Date.now() : Number(o.lastModified);
    files.set(this, { name: String(name), lastModified: Number.isFinite(lastModified) ? Math.trunc(lastModified) : 0 });
  }

  get name(): string {
    return fileState(this).name;
  }

  get lastModified(): number {
    return fileState(this).lastModified;
  }
}
tag(File, "File");

/** A copy of `blob` as a File (same bytes and type) named `name`. */
function asFile(blob: Blob, name: string, lastModified?: number): File {
  const file = new File([], name, lastModified === undefined ? {} : { lastModified });
  contents.set(file, { bytes: blobState(blob).bytes, type: blobState(blob).type });
  return file;
}

/** Whether `value` is a File of this group. */
export function isFile(value: unknown): value is File {
  return typeof value === "object" && value !== null && files.has(value);
}

type Entry = [string, string | File];

const entryLists = new WeakMap<object, Entry[]>();

function entries(self: unknown): Entry[] {
  const found = typeof self === "object" && self !== null ? entryLists.get(self) : undefined;
  if (!found) throw new TypeError("Illegal invocation");
  return found;
}

/** Scalar value string: lone surrogates become U+FFFD (USVString conversion). */
function usv(value: unknown): string {
  return String(value).replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, "\ufffd");
}

function makeEntry(name: unknown, value: unknown, filename: unknown, count: number): Entry {
  if (isBlob(value)) {
    const fileName = filename !== undefined ? usv(filename) : isFile(value) ? value.name : "blob";
    const file =
      isFile(value) && filename === undefined
        ? value
        : asFile(value, fileName, isFile(value) ? value.lastModified : undefined);
    return [usv(name), file];
  }
  if (count > 2) throw new TypeError("Failed to execute 'append' on 'FormData': parameter 2 is not of type 'Blob'.");
  return [usv(name), usv(value)];
}

const formDataIterator = iteratorKind<never>("FormData") as <T>(
  at: (index: number) => T | undefined,
) => IterableIterator<T>;

/** FormData: an ordered list of name/value entries (values are strings or Files). */
export class FormData {
  constructor(form?: unknown) {
    if (form !== undefined) throw new TypeError("FormData: a form element is not supported here");
    entryLists.set(this, []);
  }

  append(name: unknown, value: unknown, filename?: unknown): void {
    if (arguments.length < 2) throw new TypeError("FormData.append needs 2 arguments");
    entries(this).push(makeEntry(name, value, filename, arguments.length));
  }

  delete(name: unknown): void {
    const list = entries(this);
    const key = usv(name);
    for (let i = list.length - 1; i >= 0; i--) if ((list[i] as Entry)[0] === key) list.splice(i, 1);
  }

  get(name: unknown): string | File | null {
    const key = usv(name);
    const found = entries(this).find((entry) => entry[0] === key);
    return found ? found[1] : null;
  }

  getAll(name: unknown): (string | File)[] {
    const key = usv(name);
    return entries(this)
      .filter((entry) => entry[0] === key)
      .map((entry) => entry[1]);
  }

  has(name: unknown): boolean {
    const key = usv(name);
    return entries(this).some((entry) => entry[0] === key);
  }

  set(name: unknown, value: unknown, filename?: unknown): void {
    if (arguments.length < 2) throw new TypeError("FormData.set needs 2 arguments");
    const list = entries(this);
    const entry = makeEntry(name, value, filename, arguments.length);
    const first = list.findIndex((e) => e[0] === entry[0]);
    if (first < 0) {
      list.push(entry);
      return;
    }
    list[first] = entry;
    for (let i = list.length - 1; i > first; i--) if ((list[i] as Entry)[0] === entry[0]) list.splice(i, 1);
  }

  forEach(callback: (value: string | File, key: string, parent: FormData) => void, thisArg?: unknown): void {
    if (typeof callback !== "function") throw new TypeError("FormData.forEach: callback is not a function");
    const list = entries(this);
    for (let i = 0; i < list.length; i++) {
      const entry = list[i] as Entry;
      callback.call(thisArg, entry[1], entry[0], this);
    }
  }

  entries(): IterableIterator<[string, string | File]> {
    const list = entries(this);
    return formDataIterator((i) => {
      const entry = list[i];
      return entry && [entry[0], entry[1]];
    });
  }

  keys(): IterableIterator<string> {
    const list = entries(this);
    return formDataIterator((i) => list[i]?.[0]);
  }

  values(): IterableIterator<string | File> {
    const list = entries(this);
    return formDataIterator((i) => list[i]?.[1]);
  }

  declare [Symbol.iterator]: () => IterableIterator<[string, string | File]>;
}
// As Web IDL has it: the iterator is the entries method itself.
Object.defineProperty(FormData.prototype, Symbol.iterator, {
  value: FormData.prototype.entries,
  writable: true,
  configurable: true,
});
tag(FormData, "FormData");

for (const target of [Blob, File, FormData]) {
  for (const key of Object.getOwnPropertyNames(target.prototype)) {
    if (key === "constructor") continue;
    const descriptor = Object.getOwnPropertyDescriptor(target.prototype, key);
    if (descriptor) Object.defineProperty(target.prototype, key, { ...descriptor, enumerable: true });
  }
}

/** Copies a Blob/File with the same bytes (structuredClone's serialisation of them). */
export function cloneBlob(value: Blob): Blob {
  const state = blobState(value);
  const copy = isFile(value) ? new File([], value.name, { lastModified: value.lastModified }) : new Blob();
  contents.set(copy, { bytes: state.bytes, type: state.type });
  return copy;
}

/** Wraps bytes as a Blob without copying (the caller gives them up). */
export function blobFromBytes(bytes: Uint8Array, type: string): Blob {
  const blob = new Blob();
  contents.set(blob, { bytes, type: normalizeType(type) });
  return blob;
}
