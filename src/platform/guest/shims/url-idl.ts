/**
 * The Web IDL layer of URL and URLSearchParams, in place of whatwg-url's
 * generated wrappers (URL.js, URLSearchParams.js, utils.js and
 * webidl-conversions: half of the group's source, so half of what QuickJS
 * compiles on first use of URL). The URL Standard's algorithms stay
 * whatwg-url's: its URL-impl.js and URLSearchParams-impl.js do all the work;
 * this file only converts arguments (USVString, the URLSearchParams init
 * union), checks `this`, and maps implementation objects to the classes.
 * The build points URL-impl.js's require("./URLSearchParams") here.
 */
// @ts-expect-error whatwg-url's lib files ship no types
import { implementation as URLImpl } from "whatwg-url/lib/URL-impl.js";
// @ts-expect-error whatwg-url's lib files ship no types
import { implementation as URLSearchParamsImpl } from "whatwg-url/lib/URLSearchParams-impl.js";
import { iteratorKind, tag } from "../runtime.js";

interface ParamsImpl {
  _list: [string, string][];
  _url: unknown;
  readonly size: number;
  append(name: string, value: string): void;
  delete(name: string, value?: string): void;
  get(name: string): string | null;
  getAll(name: string): string[];
  has(name: string, value?: string): boolean;
  set(name: string, value: string): void;
  sort(): void;
  toString(): string;
}

interface UrlImpl {
  _query: ParamsImpl;
  href: string;
  readonly origin: string;
  protocol: string;
  username: string;
  password: string;
  host: string;
  hostname: string;
  port: string;
  pathname: string;
  search: string;
  hash: string;
  toJSON(): string;
}

const UrlImplClass = URLImpl as {
  new (globalObject: unknown, args: [string, string | undefined]): UrlImpl;
  parse(globalObject: unknown, input: string, base: string | undefined): UrlImpl | null;
  canParse(input: string, base: string | undefined): boolean;
};
const ParamsImplClass = URLSearchParamsImpl as new (
  globalObject: unknown,
  args: [unknown],
  options: { doNotStripQMark?: boolean },
) => ParamsImpl;

/** What URL-impl.js calls as `URLSearchParams.createImpl` (it links the query object to its URL itself). */
export function createImpl(globalObject: unknown, args: [unknown], options: { doNotStripQMark?: boolean }): ParamsImpl {
  return new ParamsImplClass(globalObject, args, options);
}

/** Web IDL USVString: ToString (a Symbol throws), lone surrogates replaced by U+FFFD. */
function usv(value: unknown, what: string): string {
  if (typeof value === "symbol") throw new TypeError(`${what} is a symbol, which cannot be converted to a string.`);
  const text = String(value);
  return /[\ud800-\udfff]/.test(text)
    ? text.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, "\ufffd")
    : text;
}

function required(count: number, needed: number, what: string): void {
  if (count < needed) {
    throw new TypeError(
      `Failed to execute '${what}': ${needed} argument${needed > 1 ? "s" : ""} required, but only ${count} present.`,
    );
  }
}

const urlImpls = new WeakMap<object, UrlImpl>();
const paramsImpls = new WeakMap<object, ParamsImpl>();
const paramsWrappers = new WeakMap<ParamsImpl, URLSearchParams>();

function urlImpl(self: unknown, what: string): UrlImpl {
  const impl = typeof self === "object" && self !== null ? urlImpls.get(self) : undefined;
  if (!impl) throw new TypeError(`'${what}' called on an object that is not a valid instance of URL.`);
  return impl;
}

function paramsImpl(self: unknown, what: string): ParamsImpl {
  const impl = typeof self === "object" && self !== null ? paramsImpls.get(self) : undefined;
  if (!impl) throw new TypeError(`'${what}' called on an object that is not a valid instance of URLSearchParams.`);
  return impl;
}

function wrapParams(impl: ParamsImpl): URLSearchParams {
  let wrapper = paramsWrappers.get(impl);
  if (!wrapper) {
    wrapper = Object.create(URLSearchParams.prototype) as URLSearchParams;
    paramsImpls.set(wrapper, impl);
    paramsWrappers.set(impl, wrapper);
  }
  return wrapper;
}

function wrapUrl(impl: UrlImpl): URL {
  const wrapper = Object.create(URL.prototype) as URL;
  urlImpls.set(wrapper, impl);
  return wrapper;
}

/** URL (the URL Standard's API). */
export class URL {
  constructor(url: unknown, base: unknown = undefined) {
    required(arguments.length, 1, "URL");
    urlImpls.set(
      this,
      new UrlImplClass(undefined, [usv(url, "url"), base === undefined ? undefined : usv(base, "base")]),
    );
  }

  static parse(url: unknown, base: unknown = undefined): URL | null {
    required(arguments.length, 1, "parse' on 'URL");
    const impl = UrlImplClass.parse(undefined, usv(url, "url"), base === undefined ? undefined : usv(base, "base"));
    return impl ? wrapUrl(impl) : null;
  }

  static canParse(url: unknown, base: unknown = undefined): boolean {
    required(arguments.length, 1, "canParse' on 'URL");
    return UrlImplClass.canParse(usv(url, "url"), base === undefined ? undefined : usv(base, "base"));
  }

  get searchParams(): URLSearchParams {
    return wrapParams(urlImpl(this, "get searchParams")._query);
  }

  get origin(): string {
    return urlImpl(this, "get origin").origin;
  }

  toJSON(): string {
    return urlImpl(this, "toJSON").toJSON();
  }

  toString(): string {
    return urlImpl(this, "toString").href;
  }

  declare href: string;
  declare protocol: string;
  declare username: string;
  declare password: string;
  declare host: string;
  declare hostname: string;
  declare port: string;
  declare pathname: string;
  declare search: string;
  declare hash: string;
}
for (const name of [
  "href",
  "protocol",
  "username",
  "password",
  "host",
  "hostname",
  "port",
  "pathname",
  "search",
  "hash",
] as const) {
  Object.defineProperty(URL.prototype, name, {
    get(this: unknown) {
      return urlImpl(this, `get ${name}`)[name];
    },
    set(this: unknown, value: unknown) {
      const impl = urlImpl(this, `set ${name}`);
      required(arguments.length, 1, `set ${name}' on 'URL`);
      impl[name] = usv(value, name);
    },
    enumerable: true,
    configurable: true,
  });
}
// The attributes in the interface's order, as the generated wrapper has them.
tag(URL, "URL");

const paramsIterator = iteratorKind<never>("URLSearchParams") as <T>(
  at: (index: number) => T | undefined,
) => IterableIterator<T>;

/** Converts a URLSearchParams init: sequence<sequence<USVString>>, record<USVString, USVString> or USVString. */
function convertInit(init: unknown): unknown {
  if ((typeof init === "object" && init !== null) || typeof init === "function") {
    const iterator = (init as { [Symbol.iterator]?: unknown })[Symbol.iterator];
    if (iterator !== undefined && iterator !== null) {
      if (typeof iterator !== "function")
        throw new TypeError("Failed to construct 'URLSearchParams': parameter 1 is not iterable.");
      const pairs: string[][] = [];
      for (const pair of init as Iterable<unknown>) {
        if (
          typeof pair !== "object" ||
          pair === null ||
          typeof (pair as { [Symbol.iterator]?: unknown })[Symbol.iterator] !== "function"
        ) {
          throw new TypeError(
            "Failed to construct 'URLSearchParams': parameter 1 sequence's element is not an iterable object.",
          );
        }
        pairs.push(Array.from(pair as Iterable<unknown>, (item) => usv(item, "parameter 1 sequence's element")));
      }
      return pairs;
    }
    const record = Object.create(null) as Record<string, string>;
    for (const key of Reflect.ownKeys(init as object)) {
      const descriptor = Reflect.getOwnPropertyDescriptor(init as object, key);
      if (!descriptor?.enumerable) continue;
      const name = usv(key, "parameter 1 record's key");
      record[name] = usv((init as Record<PropertyKey, unknown>)[key], "parameter 1 record's value");
    }
    return record;
  }
  return usv(init, "parameter 1");
}

/** URLSearchParams (the URL Standard's API). */
export class URLSearchParams {
  constructor(init: unknown = "") {
    const impl = new ParamsImplClass(undefined, [convertInit(init)], {});
    paramsImpls.set(this, impl);
    paramsWrappers.set(impl, this);
  }

  get size(): number {
    return paramsImpl(this, "get size").size;
  }

  append(name: unknown, value: unknown): void {
    const impl = paramsImpl(this, "append");
    required(arguments.length, 2, "append' on 'URLSearchParams");
    impl.append(usv(name, "name"), usv(value, "value"));
  }

  delete(name: unknown, value: unknown = undefined): void {
    const impl = paramsImpl(this, "delete");
    required(arguments.length, 1, "delete' on 'URLSearchParams");
    impl.delete(usv(name, "name"), value === undefined ? undefined : usv(value, "value"));
  }

  get(name: unknown): string | null {
    const impl = paramsImpl(this, "get");
    required(arguments.length, 1, "get' on 'URLSearchParams");
    return impl.get(usv(name, "name"));
  }

  getAll(name: unknown): string[] {
    const impl = paramsImpl(this, "getAll");
    required(arguments.length, 1, "getAll' on 'URLSearchParams");
    return impl.getAll(usv(name, "name"));
  }

  has(name: unknown, value: unknown = undefined): boolean {
    const impl = paramsImpl(this, "has");
    required(arguments.length, 1, "has' on 'URLSearchParams");
    return impl.has(usv(name, "name"), value === undefined ? undefined : usv(value, "value"));
  }

  set(name: unknown, value: unknown): void {
    const impl = paramsImpl(this, "set");
    required(arguments.length, 2, "set' on 'URLSearchParams");
    impl.set(usv(name, "name"), usv(value, "value"));
  }

  sort(): void {
    paramsImpl(this, "sort").sort();
  }

  toString(): string {
    return paramsImpl(this, "toString").toString();
  }

  entries(): IterableIterator<[string, string]> {
    const impl = paramsImpl(this, "entries");
    return paramsIterator((i) => {
      const pair = impl._list[i];
      return pair && [pair[0], pair[1]];
    });
  }

  keys(): IterableIterator<string> {
    const impl = paramsImpl(this, "keys");
    return paramsIterator((i) => impl._list[i]?.[0]);
  }

  values(): IterableIterator<string> {
    const impl = paramsImpl(this, "values");
    return paramsIterator((i) => impl._list[i]?.[1]);
  }

  forEach(callback: (value: string, key: string, parent: URLSearchParams) => void, thisArg: unknown = undefined): void {
    const impl = paramsImpl(this, "forEach");
    if (typeof callback !== "function") {
      throw new TypeError("Failed to execute 'forEach' on 'URLSearchParams': parameter 1 is not a function.");
    }
    // Live, as Web IDL's forEach: entries appended during the loop are visited.
    for (let i = 0; i < impl._list.length; i++) {
      const pair = impl._list[i] as [string, string];
      callback.call(thisArg, pair[1], pair[0], this);
    }
  }

  declare [Symbol.iterator]: () => IterableIterator<[string, string]>;
}
Object.defineProperty(URLSearchParams.prototype, Symbol.iterator, {
  value: URLSearchParams.prototype.entries,
  writable: true,
  configurable: true,
});
tag(URLSearchParams, "URLSearchParams");

for (const target of [URL, URLSearchParams]) {
  for (const key of Object.getOwnPropertyNames(target.prototype)) {
    if (key === "constructor") continue;
    const descriptor = Object.getOwnPropertyDescriptor(target.prototype, key);
    if (descriptor) Object.defineProperty(target.prototype, key, { ...descriptor, enumerable: true });
  }
}
for (const key of ["parse", "canParse"]) {
  const descriptor = Object.getOwnPropertyDescriptor(URL, key);
  if (descriptor) Object.defineProperty(URL, key, { ...descriptor, enumerable: true });
}
