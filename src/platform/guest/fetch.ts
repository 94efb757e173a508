/**
 * Group `fetch`: Headers, Request and Response, hand-written on this layer's
 * streams, URL, Blob and FormData (the npm fetch polyfills either need
 * XMLHttpRequest/FileReader or are bound to node:http and node:stream). They
 * follow the Fetch Standard and match Node's (undici's) messages where a guest
 * might read them. There is no `fetch` here.
 */
import type * as Blobs from "./blob.js";
import type * as Encoding from "./encoding.js";
import type * as Events from "./events.js";
import type * as Streams from "./streams.js";
import type * as Url from "./url.js";
import { iteratorKind, platform, tag } from "./runtime.js";

const need = {
  blob: () => platform.require("blob") as typeof Blobs,
  encoding: () => platform.require("encoding") as typeof Encoding,
  events: () => platform.require("events") as typeof Events,
  streams: () => platform.require("streams") as typeof Streams,
  url: () => platform.require("url") as typeof Url,
};

/** A group's exports if it is already loaded: no instance of its classes can exist otherwise. */
function ifLoaded<T>(group: string): T | undefined {
  return platform.loaded(group) as T | undefined;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

function normalizeValue(value: unknown): string {
  return String(value).replace(/^[\t\n\r ]+|[\t\n\r ]+$/g, "");
}

type Guard = "none" | "immutable";

interface HeadersState {
  /** Entries in insertion order, names lowercased. */
  list: [string, string][];
  /** The sorted-and-combined view, until the next change. */
  sorted: [string, string][] | undefined;
  guard: Guard;
}

const headerStates = new WeakMap<object, HeadersState>();

function headersState(self: unknown): HeadersState {
  const found = typeof self === "object" && self !== null ? headerStates.get(self) : undefined;
  if (!found) throw new TypeError("Illegal invocation");
  return found;
}

function checkName(name: string, method: string): void {
  if (!TOKEN.test(name)) throw new TypeError(`Headers.${method}: "${name}" is an invalid header name.`);
}

function checkValue(value: string, method: string): void {
  if (/[\0\r\n]/.test(value)) throw new TypeError(`Headers.${method}: "${value}" is an invalid header value.`);
}

function appendHeader(state: HeadersState, name: unknown, value: unknown): void {
  const key = String(name);
  const text = normalizeValue(value);
  checkName(key, "append");
  checkValue(text, "append");
  if (state.guard === "immutable") throw new TypeError("immutable");
  state.list.push([key.toLowerCase(), text]);
  state.sorted = undefined;
}

function fillHeaders(state: HeadersState, init: unknown): void {
  if (init === undefined || init === null) {
    if (init === null) throw new TypeError("Headers constructor: init must be an object");
    return;
  }
  if (typeof init !== "object" && typeof init !== "function") {
    throw new TypeError("Headers constructor: init must be a sequence or record");
  }
  const other = headerStates.get(init as object);
  if (other) {
    for (const [name, value] of other.list) state.list.push([name, value]);
    return;
  }
  const iterator = (init as { [Symbol.iterator]?: unknown })[Symbol.iterator];
  if (typeof iterator === "function") {
    for (const pair of init as Iterable<unknown>) {
      if (
        typeof pair !== "object" ||
        pair === null ||
        typeof (pair as Iterable<unknown>)[Symbol.iterator] !== "function"
      ) {
        throw new TypeError("Headers constructor: expected name/value pair to be an iterable");
      }
      const items = [...(pair as Iterable<unknown>)];
      if (items.length !== 2) {
        throw new TypeError(`Headers constructor: expected name/value pair to be length 2, found ${items.length}.`);
      }
      appendHeader(state, items[0], items[1]);
    }
    return;
  }
  for (const key of Reflect.ownKeys(init as object)) {
    const descriptor = Reflect.getOwnPropertyDescriptor(init as object, key);
    if (!descriptor?.enumerable) continue;
    if (typeof key === "symbol") throw new TypeError("Headers constructor: a record key cannot be a symbol");
    appendHeader(state, key, (init as Record<string, unknown>)[key]);
  }
}

/** The sorted-and-combined view of a header list (set-cookie entries stay separate). */
function sortedList(state: HeadersState): [string, string][] {
  if (state.sorted) return state.sorted;
  const names = [...new Set(state.list.map(([name]) => name))].sort();
  const out: [string, string][] = [];
  for (const name of names) {
    const values = state.list.filter(([n]) => n === name).map(([, v]) => v);
    if (name === "set-cookie") for (const value of values) out.push([name, value]);
    else out.push([name, values.join(", ")]);
  }
  state.sorted = out;
  return out;
}

const headersIterator = iteratorKind<never>("Headers") as <T>(
  at: (index: number) => T | undefined,
) => IterableIterator<T>;

/** Headers: a case-insensitive header list; iteration is sorted by name, values combined (set-cookie apart). */
export class Headers {
  constructor(init?: unknown) {
    const state: HeadersState = { list: [], sorted: undefined, guard: "none" };
    headerStates.set(this, state);
    fillHeaders(state, init);
  }

  append(name: unknown, value: unknown): void {
    appendHeader(headersState(this), name, value);
  }

  delete(name: unknown): void {
    const state = headersState(this);
    const key = String(name);
    checkName(key, "delete");
    if (state.guard === "immutable") throw new TypeError("immutable");
    const lower = key.toLowerCase();
    state.list = state.list.filter(([n]) => n !== lower);
    state.sorted = undefined;
  }

  get(name: unknown): string | null {
    const state = headersState(this);
    const key = String(name);
    checkName(key, "get");
    const lower = key.toLowerCase();
    const values = state.list.filter(([n]) => n === lower).map(([, v]) => v);
    return values.length === 0 ? null : values.join(", ");
  }

  getSetCookie(): string[] {
    return headersState(this)
      .list.filter(([n]) => n === "set-cookie")
      .map(([, v]) => v);
  }

  has(name: unknown): boolean {
    const key = String(name);
    checkName(key, "has");
    const lower = key.toLowerCase();
    return headersState(this).list.some(([n]) => n === lower);
  }

  set(name: unknown, value: unknown): void {
    const state = headersState(this);
    const key = String(name);
    const text = normalizeValue(value);
    checkName(key, "set");
    checkValue(text, "set");
    if (state.guard === "immutable") throw new TypeError("immutable");
    const lower = key.toLowerCase();
    const first = state.list.findIndex(([n]) => n === lower);
    if (first < 0) state.list.push([lower, text]);
    else {
      state.list[first] = [lower, text];
      state.list = state.list.filter(([n], i) => i <= first || n !== lower);
    }
    state.sorted = undefined;
  }

  forEach(callback: (value: string, key: string, parent: Headers) => void, thisArg?: unknown): void {
    if (typeof callback !== "function") {
      throw new TypeError("Headers.forEach: Argument 1 could not be converted to: Function.");
    }
    for (const [name, value] of this) callback.call(thisArg, value, name, this);
  }

  entries(): IterableIterator<[string, string]> {
    const state = headersState(this);
    return headersIterator((i) => {
      const entry = sortedList(state)[i];
      return entry && [entry[0], entry[1]];
    });
  }

  keys(): IterableIterator<string> {
    const state = headersState(this);
    return headersIterator((i) => sortedList(state)[i]?.[0]);
  }

  values(): IterableIterator<string> {
    const state = headersState(this);
    return headersIterator((i) => sortedList(state)[i]?.[1]);
  }

  declare [Symbol.iterator]: () => IterableIterator<[string, string]>;
}
Object.defineProperty(Headers.prototype, Symbol.iterator, {
  value: Headers.prototype.entries,
  writable: true,
  configurable: true,
});
tag(Headers, "Headers");

function immutableHeaders(init: unknown): Headers {
  const headers = new Headers(init);
  headersState(headers).guard = "immutable";
  return headers;
}

// ---------------------------------------------------------------- bodies

interface BodyState {
  /** The bytes of a body given whole, until a stream is made of them. */
  bytes: Uint8Array | null;
  stream: ReadableStream<Uint8Array> | null;
  /** Set when the bytes were consumed without ever making a stream. */
  used: boolean;
}

interface Extracted {
  body: BodyState;
  type: string | null;
}

function isStream(value: unknown): value is ReadableStream<Uint8Array> {
  const streams = ifLoaded<typeof Streams>("streams");
  return streams !== undefined && value instanceof streams.ReadableStream;
}

function boundary(): string {
  const bytes = need.encoding().fromHex(platform.host.randomBytes(6));
  let digits = "";
  for (let i = 0; i < bytes.length; i++) digits += String((bytes[i] as number) % 100).padStart(2, "0");
  return `----formdata-warden-${digits}`;
}

function escapeName(name: string): string {
  return name.replace(/\n/g, "%0A").replace(/\r/g, "%0D").replace(/"/g, "%22");
}

function multipart(form: Blobs.FormData): { bytes: Uint8Array; type: string } {
  const { utf8Encode } = need.encoding();
  const { blobBytes, isBlob } = need.blob();
  const mark = boundary();
  const parts: Uint8Array[] = [];
  for (const [name, value] of form) {
    let head = `--${mark}\r\nContent-Disposition: form-data; name="${escapeName(name)}"`;
    if (isBlob(value)) {
      head += `; filename="${escapeName((value as Blobs.File).name)}"\r\nContent-Type: ${value.type || "application/octet-stream"}\r\n\r\n`;
      parts.push(utf8Encode(head), blobBytes(value), utf8Encode("\r\n"));
    } else {
      parts.push(utf8Encode(`${head}\r\n\r\n${String(value).replace(/\r(?!\n)|(?<!\r)\n/g, "\r\n")}\r\n`));
    }
  }
  parts.push(utf8Encode(`--${mark}--\r\n`));
  return { bytes: concatBytes(parts), type: `multipart/form-data; boundary=${mark}` };
}

function concatBytes(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** The Fetch Standard's "extract a body": bytes or a stream, and the Content-Type it implies. */
function extractBody(init: unknown): Extracted {
  const whole = (bytes: Uint8Array, type: string | null): Extracted => ({
    body: { bytes, stream: null, used: false },
    type,
  });
  if (typeof init === "string") return whole(need.encoding().utf8Encode(init), "text/plain;charset=UTF-8");
  if (init instanceof ArrayBuffer || ArrayBuffer.isView(init))
    return whole(need.encoding().bytesOf(init).slice(), null);
  const url = ifLoaded<typeof Url>("url");
  if (url && init instanceof url.URLSearchParams) {
    return whole(need.encoding().utf8Encode(init.toString()), "application/x-www-form-urlencoded;charset=UTF-8");
  }
  const blob = ifLoaded<typeof Blobs>("blob");
  if (blob && blob.isBlob(init)) return whole(blob.blobBytes(init), init.type || null);
  if (blob && init instanceof blob.FormData) {
    const { bytes, type } = multipart(init);
    return whole(bytes, type);
  }
  if (isStream(init)) {
    if (init.locked || (init as unknown as { _disturbed?: boolean })._disturbed) {
      throw new TypeError("Response body object should not be disturbed or locked");
    }
    return { body: { bytes: null, stream: init, used: false }, type: null };
  }
  return whole(need.encoding().utf8Encode(String(init)), "text/plain;charset=UTF-8");
}

/** The body's stream, made from its bytes on first use. */
function bodyStream(body: BodyState): ReadableStream<Uint8Array> {
  if (!body.stream) {
    const bytes = body.used ? new Uint8Array(0) : body.bytes;
    const { ReadableStream } = need.streams();
    body.stream = new ReadableStream<Uint8Array>({
      type: "bytes",
      start(controller) {
        if (bytes && bytes.length > 0) controller.enqueue(bytes.slice());
        controller.close();
      },
    }) as unknown as ReadableStream<Uint8Array>;
    if (body.used) (body.stream as unknown as { _disturbed: boolean })._disturbed = true;
    body.bytes = null;
  }
  return body.stream;
}

/** web-streams-polyfill marks a stream read or cancelled in `_disturbed` (the spec's [[disturbed]]). */
function disturbed(body: BodyState | null): boolean {
  if (!body) return false;
  if (body.stream) return Boolean((body.stream as unknown as { _disturbed?: boolean })._disturbed);
  return body.used;
}

function unusable(body: BodyState | null): boolean {
  return body !== null && (disturbed(body) || (body.stream !== null && body.stream.locked));
}

async function readAll(body: BodyState | null): Promise<Uint8Array> {
  if (!body) return new Uint8Array(0);
  if (!body.stream && body.bytes) {
    const bytes = body.bytes;
    body.used = true;
    body.bytes = null;
    return bytes;
  }
  const reader = bodyStream(body).getReader();
  const chunks: Uint8Array[] = [];
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (!(value instanceof Uint8Array)) throw new TypeError("Received non-Uint8Array chunk");
    chunks.push(value);
  }
  return concatBytes(chunks);
}

function mimeEssence(type: string | null): string {
  return (type ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
}

function parseFormData(bytes: Uint8Array, contentType: string | null): Blobs.FormData {
  const { FormData, File } = need.blob();
  const essence = mimeEssence(contentType);
  const form = new FormData();
  if (essence === "application/x-www-form-urlencoded") {
    const { URLSearchParams } = need.url();
    const text = new (need.encoding().TextDecoder)().decode(bytes);
    for (const [name, value] of new URLSearchParams(text)) form.append(name, value);
    return form;
  }
  if (essence === "multipart/form-data") {
    const match = /;\s*boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType ?? "");
    const mark = match?.[1] ?? match?.[2]?.trim();
    if (!mark) throw new TypeError("Failed to parse body as FormData.");
    const { TextDecoder } = need.encoding();
    const latin1 = need.encoding().toBinary(bytes);
    const sections = latin1.split(`--${mark}`);
    if (sections.length < 2) throw new TypeError("Failed to parse body as FormData.");
    for (const section of sections.slice(1)) {
      if (section.startsWith("--")) break;
      const split = section.indexOf("\r\n\r\n");
      if (split < 0) throw new TypeError("Failed to parse body as FormData.");
      const head = new TextDecoder().decode(need.encoding().fromBinary(section.slice(0, split)));
      const content = section.slice(split + 4).replace(/\r\n$/, "");
      const name = /name="([^"]*)"/i.exec(head)?.[1];
      if (name === undefined) throw new TypeError("Failed to parse body as FormData.");
      const filename = /filename="([^"]*)"/i.exec(head)?.[1];
      const type = /content-type:\s*([^\r\n]*)/i.exec(head)?.[1] ?? "";
      const data = need.encoding().fromBinary(content);
      if (filename !== undefined) form.append(name, new File([data], filename, { type }));
      else form.append(name, new TextDecoder().decode(data));
    }
    return form;
  }
  throw new TypeError('Content-Type was not one of "multipart/form-data" or "application/x-www-form-urlencoded".');
}

/** The body methods Request and Response share. */
function consume<T>(
  self: unknown,
  state: (self: unknown) => { body: BodyState | null; headers: Headers },
  convert: (bytes: Uint8Array, contentType: string | null) => T,
): Promise<T> {
  try {
    const { body, headers } = state(self);
    if (unusable(body)) return Promise.reject(new TypeError("Body is unusable: Body has already been read"));
    return readAll(body).then((bytes) => convert(bytes, headers.get("content-type")));
  } catch (error) {
    return Promise.reject(error);
  }
}

const decodeText = (bytes: Uint8Array): string => new (need.encoding().TextDecoder)().decode(bytes);

/** Defines the Body mixin's members on a class's prototype. */
function mixBody(
  target: { prototype: object },
  state: (self: unknown) => { body: BodyState | null; headers: Headers },
) {
  const members: Record<string, PropertyDescriptor> = {
    body: {
      get(this: unknown) {
        const { body } = state(this);
        return body ? bodyStream(body) : null;
      },
    },
    bodyUsed: {
      get(this: unknown) {
        return disturbed(state(this).body);
      },
    },
    arrayBuffer: {
      value(this: unknown) {
        return consume(this, state, (bytes) =>
          bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes.buffer : bytes.slice().buffer,
        );
      },
    },
    bytes: {
      value(this: unknown) {
        return consume(this, state, (bytes) => bytes);
      },
    },
    blob: {
      value(this: unknown) {
        return consume(this, state, (bytes, type) => need.blob().blobFromBytes(bytes, serializedMimeType(type)));
      },
    },
    formData: {
      value(this: unknown) {
        return consume(this, state, parseFormData);
      },
    },
    json: {
      value(this: unknown) {
        return consume(this, state, (bytes) => JSON.parse(decodeText(bytes)) as unknown);
      },
    },
    text: {
      value(this: unknown) {
        return consume(this, state, decodeText);
      },
    },
  };
  for (const [key, descriptor] of Object.entries(members)) {
    Object.defineProperty(target.prototype, key, {
      ...descriptor,
      enumerable: true,
      configurable: true,
      ...("value" in descriptor ? { writable: true } : {}),
    });
  }
}

const QUOTED_OK = /^[\t\x20-\x7e\x80-\xff]*$/;

/**
 * A Content-Type value parsed and serialised as the MIME Sniffing Standard
 * says (what a body's blob() type is): essence lowercased, parameter names
 * lowercased, the first of each name kept, values quoted where needed; "" if
 * it does not parse.
 */
function serializedMimeType(header: string | null): string {
  const input = (header ?? "").replace(/^[\t\n\r ]+|[\t\n\r ]+$/g, "");
  const slash = input.indexOf("/");
  if (slash <= 0) return "";
  const type = input.slice(0, slash);
  let rest = input.slice(slash + 1);
  const semicolon = rest.indexOf(";");
  const subtype = (semicolon < 0 ? rest : rest.slice(0, semicolon)).replace(/[\t\n\r ]+$/, "");
  if (!TOKEN.test(type) || !TOKEN.test(subtype)) return "";
  let out = `${type.toLowerCase()}/${subtype.toLowerCase()}`;
  const seen = new Set<string>();
  rest = semicolon < 0 ? "" : rest.slice(semicolon);
  while (rest.startsWith(";")) {
    rest = rest.slice(1).replace(/^[\t\n\r ]+/, "");
    const end = rest.search(/[;=]/);
    const name = (end < 0 ? rest : rest.slice(0, end)).toLowerCase();
    rest = end < 0 ? "" : rest.slice(end);
    if (rest.startsWith(";")) continue;
    if (!rest.startsWith("=")) break;
    rest = rest.slice(1);
    let value: string;
    if (rest.startsWith('"')) {
      value = "";
      let i = 1;
      for (; i < rest.length && rest[i] !== '"'; i++) {
        if (rest[i] === "\\" && i + 1 < rest.length) i++;
        value += rest[i];
      }
      rest = rest.slice(i + 1);
      const next = rest.indexOf(";");
      rest = next < 0 ? "" : rest.slice(next);
    } else {
      const next = rest.indexOf(";");
      value = (next < 0 ? rest : rest.slice(0, next)).replace(/[\t\n\r ]+$/, "");
      rest = next < 0 ? "" : rest.slice(next);
      if (value === "") continue;
    }
    if (name === "" || !TOKEN.test(name) || !QUOTED_OK.test(value) || seen.has(name)) continue;
    seen.add(name);
    const quoted = value === "" || !TOKEN.test(value) ? `"${value.replace(/(["\\])/g, "\\$1")}"` : value;
    out += `;${name}=${quoted}`;
  }
  return out;
}

function cloneBody(body: BodyState | null): BodyState | null {
  if (!body) return null;
  if (unusable(body)) throw new TypeError("Response.clone: Body has already been consumed.");
  if (!body.stream && body.bytes) return { bytes: body.bytes, stream: null, used: false };
  const [a, b] = bodyStream(body).tee();
  body.stream = a;
  return { bytes: null, stream: b, used: false };
}

// ---------------------------------------------------------------- Request

const NORMALIZED_METHODS = ["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"];

interface RequestState {
  url: string;
  method: string;
  headers: Headers;
  body: BodyState | null;
  signalSource: AbortSignal | null | undefined;
  signal: AbortSignal | undefined;
  options: Record<string, unknown>;
}

const requestStates = new WeakMap<object, RequestState>();

function requestState(self: unknown): RequestState {
  const found = typeof self === "object" && self !== null ? requestStates.get(self) : undefined;
  if (!found) throw new TypeError("Illegal invocation");
  return found;
}

const REQUEST_DEFAULTS: Record<string, unknown> = {
  cache: "default",
  credentials: "same-origin",
  destination: "",
  integrity: "",
  isHistoryNavigation: false,
  isReloadNavigation: false,
  keepalive: false,
  mode: "cors",
  redirect: "follow",
  referrer: "about:client",
  referrerPolicy: "",
  duplex: "half",
};

const ENUMS: Record<string, string[]> = {
  cache: ["default", "no-store", "reload", "no-cache", "force-cache", "only-if-cached"],
  credentials: ["omit", "same-origin", "include"],
  mode: ["navigate", "same-origin", "no-cors", "cors"],
  redirect: ["follow", "error", "manual"],
  referrerPolicy: [
    "",
    "no-referrer",
    "no-referrer-when-downgrade",
    "same-origin",
    "origin",
    "strict-origin",
    "origin-when-cross-origin",
    "strict-origin-when-cross-origin",
    "unsafe-url",
  ],
  duplex: ["half"],
};

/**
 * Texts a Request was made from, and the URL each parsed to. A Request's URL has no base here,
 * so its parse is a function of the text alone; on QuickJS the parse is most of a Request's cost
 * (~130 of ~150 µs), and a warm instance sees the same URLs again and again. Bounded: texts of at
 * most REQUEST_URL_CHARS characters, emptied when REQUEST_URLS are held. It lives in the guest's
 * heap, counted as the guest's memory.
 */
const parsedRequestUrls = new Map<string, string>();
const REQUEST_URLS = 64;
const REQUEST_URL_CHARS = 2048;

/** The URL of `new Request(text)`: the parse's href, or the constructor's TypeError. */
function requestUrl(text: string): string {
  const known = parsedRequestUrls.get(text);
  if (known !== undefined) return known;
  let parsed: URL;
  try {
    parsed = new (need.url().URL)(text);
  } catch (cause) {
    throw Object.assign(new TypeError(`Failed to parse URL from ${text}`), { cause });
  }
  if (parsed.username || parsed.password) {
    throw new TypeError(`Request cannot be constructed from a URL that includes credentials: ${text}`);
  }
  if (text.length <= REQUEST_URL_CHARS) {
    if (parsedRequestUrls.size >= REQUEST_URLS) parsedRequestUrls.clear();
    parsedRequestUrls.set(text, parsed.href);
  }
  return parsed.href;
}

/** Request: a method, URL, headers and body (no fetch to send it here). */
export class Request {
  constructor(input: unknown, init: unknown = {}) {
    if (arguments.length === 0) throw new TypeError("Request constructor: 1 argument required, but only 0 present.");
    const o = (init ?? {}) as Record<string, unknown>;
    const from = typeof input === "object" && input !== null ? requestStates.get(input) : undefined;
    const url = from ? from.url : requestUrl(String(input));
    let method = from?.method ?? "GET";
    if (o.method !== undefined) {
      method = String(o.method);
      if (!TOKEN.test(method)) throw new TypeError(`'${method}' is not a valid HTTP method.`);
      const upper = method.toUpperCase();
      if (upper === "CONNECT" || upper === "TRACE" || upper === "TRACK") {
        throw new TypeError(`'${method}' HTTP method is unsupported.`);
      }
      if (NORMALIZED_METHODS.includes(upper)) method = upper;
    }
    const options: Record<string, unknown> = { ...REQUEST_DEFAULTS, ...(from?.options ?? {}) };
    for (const key of Object.keys(REQUEST_DEFAULTS)) {
      if (o[key] === undefined) continue;
      const value = typeof REQUEST_DEFAULTS[key] === "boolean" ? Boolean(o[key]) : String(o[key]);
      const allowed = ENUMS[key];
      if (allowed && !allowed.includes(value as string)) {
        throw new TypeError(
          `Request constructor: ${String(value)} is not an accepted type. Expected one of ${allowed.join(", ")}.`,
        );
      }
      options[key] = value;
    }
    if (options.mode === "navigate") throw new TypeError("Request constructor: invalid request mode navigate.");
    const headers = new Headers(o.headers !== undefined ? o.headers : from?.headers);
    let body: BodyState | null = null;
    if (o.body !== undefined && o.body !== null) {
      if (method === "GET" || method === "HEAD") throw new TypeError("Request with GET/HEAD method cannot have body.");
      const extracted = extractBody(o.body);
      if (extracted.body.stream && o.duplex === undefined) {
        throw new TypeError("RequestInit: duplex option is required when sending a body.");
      }
      body = extracted.body;
      if (extracted.type !== null && !headers.has("content-type")) headers.append("content-type", extracted.type);
    } else if (from?.body) {
      if (unusable(from.body))
        throw new TypeError("Cannot construct a Request with a Request object that has already been used.");
      if (method === "GET" || method === "HEAD") throw new TypeError("Request with GET/HEAD method cannot have body.");
      // The new request takes the body over; the old one reads as used.
      body = from.body;
      from.body = { bytes: null, stream: null, used: true };
    }
    const signalSource =
      o.signal !== undefined ? (o.signal as AbortSignal | null) : from ? (from.signal ?? from.signalSource) : undefined;
    if (signalSource !== undefined && signalSource !== null) {
      const events = need.events();
      if (!(signalSource instanceof events.AbortSignal)) {
        throw new TypeError("Failed to construct 'Request': member signal is not of type AbortSignal.");
      }
    }
    requestStates.set(this, { url, method, headers, body, signalSource, signal: undefined, options });
  }

  get method(): string {
    return requestState(this).method;
  }

  get url(): string {
    return requestState(this).url;
  }

  get headers(): Headers {
    return requestState(this).headers;
  }

  get signal(): AbortSignal {
    const state = requestState(this);
    if (!state.signal) {
      const { AbortSignal, AbortController } = need.events();
      state.signal = (state.signalSource
        ? AbortSignal.any([state.signalSource as never])
        : new AbortController().signal) as unknown as AbortSignal;
    }
    return state.signal;
  }

  clone(): Request {
    const state = requestState(this);
    if (unusable(state.body)) throw new TypeError("Request.clone: Body has already been consumed.");
    const copy = Object.create(Request.prototype) as Request;
    requestStates.set(copy, {
      ...state,
      headers: new Headers(state.headers),
      body: cloneBody(state.body),
      signalSource: state.signal ?? state.signalSource,
      signal: undefined,
      options: { ...state.options },
    });
    return copy;
  }
}
for (const key of Object.keys(REQUEST_DEFAULTS)) {
  Object.defineProperty(Request.prototype, key, {
    get(this: unknown) {
      return requestState(this).options[key];
    },
    enumerable: true,
    configurable: true,
  });
}
mixBody(Request, requestState);
tag(Request, "Request");

// ---------------------------------------------------------------- Response

interface ResponseState {
  type: string;
  status: number;
  statusText: string;
  headers: Headers;
  body: BodyState | null;
  url: string;
  redirected: boolean;
}

const responseStates = new WeakMap<object, ResponseState>();

function responseState(self: unknown): ResponseState {
  const found = typeof self === "object" && self !== null ? responseStates.get(self) : undefined;
  if (!found) throw new TypeError("Illegal invocation");
  return found;
}

const NULL_BODY_STATUS = [101, 103, 204, 205, 304];
const REDIRECT_STATUS = [301, 302, 303, 307, 308];

function initResponse(self: object, init: unknown, extracted: Extracted | null, type = "default"): ResponseState {
  const o = (init ?? {}) as { status?: unknown; statusText?: unknown; headers?: unknown };
  const status = o.status === undefined ? 200 : Number(o.status) | 0;
  if (status < 200 || status > 599) {
    throw new RangeError('init["status"] must be in the range of 200 to 599, inclusive.');
  }
  const statusText = o.statusText === undefined ? "" : String(o.statusText);
  if (!/^[\t\x20-\x7e\x80-\xff]*$/.test(statusText)) throw new TypeError("Invalid statusText");
  const headers = new Headers(o.headers);
  if (extracted && NULL_BODY_STATUS.includes(status)) {
    throw new TypeError(`Response constructor: Invalid response status code ${status}`);
  }
  if (extracted?.type && !headers.has("content-type")) headers.append("content-type", extracted.type);
  const state: ResponseState = {
    type,
    status,
    statusText,
    headers,
    body: extracted?.body ?? null,
    url: "",
    redirected: false,
  };
  responseStates.set(self, state);
  return state;
}

/** Response: a status, headers and body. */
export class Response {
  constructor(body: unknown = null, init: unknown = {}) {
    if (init !== undefined && init !== null && typeof init !== "object") {
      throw new TypeError("Response constructor: init must be an object");
    }
    initResponse(this, init, body === null || body === undefined ? null : extractBody(body));
  }

  get type(): string {
    return responseState(this).type;
  }

  get url(): string {
    return responseState(this).url;
  }

  get redirected(): boolean {
    return responseState(this).redirected;
  }

  get status(): number {
    return responseState(this).status;
  }

  get ok(): boolean {
    const { status } = responseState(this);
    return status >= 200 && status <= 299;
  }

  get statusText(): string {
    return responseState(this).statusText;
  }

  get headers(): Headers {
    return responseState(this).headers;
  }

  clone(): Response {
    const state = responseState(this);
    if (unusable(state.body)) throw new TypeError("Response.clone: Body has already been consumed.");
    const copy = Object.create(Response.prototype) as Response;
    const headers = new Headers(state.headers);
    headersState(headers).guard = headersState(state.headers).guard;
    responseStates.set(copy, { ...state, headers, body: cloneBody(state.body) });
    return copy;
  }

  /** A network error: type "error", status 0, immutable headers. */
  static error(): Response {
    const response = Object.create(Response.prototype) as Response;
    responseStates.set(response, {
      type: "error",
      status: 0,
      statusText: "",
      headers: immutableHeaders(undefined),
      body: null,
      url: "",
      redirected: false,
    });
    return response;
  }

  /** A JSON response: `JSON.stringify(data)` with Content-Type application/json. */
  static json(data: unknown, init: unknown = {}): Response {
    const text = JSON.stringify(data);
    if (text === undefined) throw new TypeError("Value is not JSON serializable");
    const response = Object.create(Response.prototype) as Response;
    initResponse(response, init, { ...extractBody(text), type: "application/json" });
    return response;
  }

  /** A redirect to `url` (absolute) with `status` 301, 302, 303, 307 or 308. */
  static redirect(url: unknown, status: unknown = 302): Response {
    let href: string;
    try {
      href = new (need.url().URL)(String(url)).href;
    } catch (cause) {
      throw Object.assign(new TypeError(`Failed to parse URL from ${String(url)}`), { cause });
    }
    const code = Number(status) | 0;
    if (!REDIRECT_STATUS.includes(code)) throw new RangeError(`Invalid status code ${code}`);
    const response = Object.create(Response.prototype) as Response;
    const state = initResponse(response, { status: code }, null);
    state.headers.set("location", href);
    headersState(state.headers).guard = "immutable";
    return response;
  }
}
mixBody(Response, responseState);
tag(Response, "Response");

for (const target of [Headers, Request, Response]) {
  for (const key of Object.getOwnPropertyNames(target.prototype)) {
    if (key === "constructor") continue;
    const descriptor = Object.getOwnPropertyDescriptor(target.prototype, key);
    if (descriptor) Object.defineProperty(target.prototype, key, { ...descriptor, enumerable: true });
  }
}
