/**
 * Requests and responses of a warm app's `fetch` as plain data (no `Request`, `Response` or
 * `Headers` objects, no body streams), held to the rules the Fetch API's classes apply: what
 * `new Headers()`, `new Request()` or `new Response()` refuses is refused here too, and a header
 * list comes out as iterating a `Headers` gives it (names in lower case and sorted, repeated names
 * joined with ", ", `set-cookie` kept one entry per cookie).
 */

/** A request as it goes into {@link LoadedApp.fetchData}. */
export interface FetchRequestData {
  /** An HTTP method (a token; CONNECT, TRACE and TRACK are refused, as by `new Request()`). */
  method: string;
  /** An absolute URL, as `Request.url` gives it. */
  url: string;
  /** The header list, as iterating a `Headers` gives it (see {@link headerList}). */
  headers: [string, string][];
  /** The body, or null for none (an empty body is not no body). */
  body: Uint8Array | null;
}

/** A response as it comes out of {@link LoadedApp.fetchData}: everything a `Response` would accept. */
export interface FetchResponseData {
  /** 200 to 599. */
  status: number;
  statusText: string;
  /** As iterating the response's `Headers` gives them, framing headers left out. */
  headers: [string, string][];
  /** The body (empty for a status that has none). */
  body: Uint8Array;
}

/** `token` of RFC 9110: what a header name must be. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Leading and trailing HTTP whitespace, which `Headers` strips from values. */
const EDGE_WHITESPACE = /^[\t\n\r ]+|[\t\n\r ]+$/g;
/** What a header value (once stripped) must not hold: NUL, CR, LF, or a character past a byte. */
const BAD_VALUE = /[\0\r\n\u0100-\uffff]/;
/** `reason-phrase` of RFC 9110 (HTAB, SP, VCHAR, obs-text). */
const REASON_PHRASE = /^[\t\x20-\x7e\x80-\xff]*$/;
const FORBIDDEN_METHODS = new Set(["CONNECT", "TRACE", "TRACK"]);

/**
 * A header's value as `Headers` stores it (stripped of edge whitespace), or undefined when
 * `Headers` would refuse the pair.
 */
function headerValue(name: string, value: string): string | undefined {
  if (!TOKEN.test(name)) return undefined;
  const stripped =
    value.length > 0 && (value.charCodeAt(0) <= 32 || value.charCodeAt(value.length - 1) <= 32)
      ? value.replace(EDGE_WHITESPACE, "")
      : value;
  return BAD_VALUE.test(stripped) ? undefined : stripped;
}

/**
 * The list that appending each pair to a `Headers` and iterating it gives. `onRefused`
 * decides what a pair `Headers` refuses does: it throws what it returns, or is left out when it
 * returns undefined.
 */
function buildList(
  count: number,
  pair: (index: number) => [unknown, unknown],
  onRefused: (name: string, value: string) => Error | undefined,
): [string, string][] {
  const values = new Map<string, string>();
  const cookies: string[] = [];
  for (let i = 0; i < count; i++) {
    const [rawName, rawValue] = pair(i);
    const name = String(rawName);
    const text = String(rawValue);
    const value = headerValue(name, text);
    if (value === undefined) {
      const error = onRefused(name, text);
      if (error) throw error;
      continue;
    }
    const lower = name.toLowerCase();
    if (lower === "set-cookie") {
      cookies.push(value);
      continue;
    }
    const before = values.get(lower);
    values.set(lower, before === undefined ? value : `${before}, ${value}`);
  }
  const names = [...values.keys()];
  if (cookies.length > 0) names.push("set-cookie");
  names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const list: [string, string][] = [];
  for (const name of names) {
    if (name === "set-cookie") for (const cookie of cookies) list.push([name, cookie]);
    else list.push([name, values.get(name)!]);
  }
  return list;
}

/**
 * The header list of a request from Node's `rawHeaders` (names and values alternating): pairs
 * the Fetch API refuses are left out.
 */
export function rawHeaderList(raw: readonly string[]): [string, string][] {
  return buildList(
    raw.length >> 1,
    (i) => [raw[2 * i], raw[2 * i + 1]],
    () => undefined,
  );
}

/**
 * The header list of a guest's answer (any JSON), as `new Headers()` fed with it would give it;
 * throws the `TypeError` `Headers` would for a pair it refuses.
 */
export function answerHeaderList(headers: unknown, drop: ReadonlySet<string>): [string, string][] {
  const pairs: unknown[][] = [];
  for (const entry of headers as Iterable<unknown>) {
    const [name, value] = entry as unknown[];
    if (!drop.has(String(name).toLowerCase())) pairs.push([name, value]);
  }
  return buildList(
    pairs.length,
    (i) => pairs[i] as [unknown, unknown],
    (name, value) =>
      new TypeError(
        TOKEN.test(name)
          ? `Headers.append: "${value}" is an invalid header value.`
          : `Headers.append: "${name}" is an invalid header name.`,
      ),
  );
}

/** A response status as `new Response()` takes it (WebIDL `unsigned short`); a RangeError outside 200-599. */
export function responseStatus(status: unknown): number {
  let number = Number(status);
  number = Number.isFinite(number) ? Math.trunc(number) % 65536 : 0;
  if (number < 0) number += 65536;
  if (number < 200 || number > 599) {
    throw new RangeError('init["status"] must be in the range of 200 to 599, inclusive.');
  }
  return number;
}

/** A status text as `new Response()` takes it; a TypeError for one it refuses. */
export function responseStatusText(statusText: unknown): string {
  const text = statusText === undefined ? "" : String(statusText);
  if (!REASON_PHRASE.test(text)) throw new TypeError("Invalid statusText");
  return text;
}

const NORMALIZED_METHODS = new Set(["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"]);

/**
 * A request's method as `new Request()` makes it (the six standard ones in upper case); throws
 * the TypeError it would for a method it refuses, or for a GET or HEAD with a body.
 */
export function requestMethod(method: string, hasBody: boolean): string {
  if (!TOKEN.test(method)) throw new TypeError(`'${method}' is not a valid HTTP method.`);
  const upper = method.toUpperCase();
  if (FORBIDDEN_METHODS.has(upper)) throw new TypeError(`'${method}' HTTP method is unsupported.`);
  const normalized = NORMALIZED_METHODS.has(upper) ? upper : method;
  if (hasBody && (normalized === "GET" || normalized === "HEAD")) {
    throw new TypeError("Request with GET/HEAD method cannot have body.");
  }
  return normalized;
}
