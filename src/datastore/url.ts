/**
 * Datastore URLs: `memory:` for the embedded store, `sqlite:PATH` for a
 * SQLite file, `redis://` or `rediss://` (TLS) for a Redis server. A SQLite
 * path is taken literally (no percent-decoding, no query); a relative path is
 * resolved against the given directory. A Redis URL is a WHATWG URL:
 * `redis://[user:password@]host[:port][/db][?prefix=name]`.
 */
import { isAbsolute, resolve } from "node:path";
import { ConfigError } from "../errors/index.js";

/** Where a datastore lives, as a parsed URL says. */
export type DatastoreLocation =
  | { readonly kind: "memory" }
  | { readonly kind: "sqlite"; readonly path: string }
  | ({ readonly kind: "redis" } & RedisLocation);

/** A Redis server and the keys of a datastore in it, as a `redis://` or `rediss://` URL gives them. */
export interface RedisLocation {
  /** Host name or address (IPv6 without brackets). */
  readonly host: string;
  /** TCP port. */
  readonly port: number;
  /** Database number (`SELECT`). */
  readonly db: number;
  /** True for `rediss://`: TLS. */
  readonly tls: boolean;
  /** ACL user name, percent-decoded, if given. */
  readonly username?: string;
  /** Password, percent-decoded, if given. */
  readonly password?: string;
  /** First part of every key name (`?prefix=`). */
  readonly prefix: string;
  /** The URL with its password replaced by `***`, for messages and `location`. */
  readonly display: string;
}

/** The key prefix of a Redis datastore when its URL names none. */
export const DEFAULT_REDIS_DATASTORE_PREFIX = "warden:ds";

/** What a Redis key prefix may be: it becomes part of key names, outside their `{...}` hash tag. */
const REDIS_PREFIX_PATTERN = /^[A-Za-z0-9_.:-]{1,128}$/;

/** The accepted URL forms, for messages and help. */
export const DATASTORE_URL_FORMS = `"memory:", "sqlite:./relative/path.db", "sqlite:/absolute/path.db" or "redis://host:6379"`;

const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):/;

/**
 * Parses a datastore URL. Relative SQLite paths resolve against `cwd`.
 * Anything else raises `ConfigError` naming `source`, the value and the
 * accepted forms; an unknown scheme is named in the message.
 */
export function parseDatastoreUrl(
  url: unknown,
  cwd: string = process.cwd(),
  source = "the datastore URL",
): DatastoreLocation {
  // A Redis URL may carry a password: messages show it as ***.
  const shown = typeof url === "string" ? redactDatastoreUrl(url) : url;
  const fail = (reason: string): ConfigError =>
    new ConfigError({ source, value: shown, reason, expected: DATASTORE_URL_FORMS });
  if (typeof url !== "string") {
    throw fail(
      `a datastore URL is a string, not ${url === null ? "null" : Array.isArray(url) ? "an array" : typeof url}`,
    );
  }
  const text = url.trim();
  const scheme = SCHEME.exec(text)?.[1]?.toLowerCase();
  if (scheme === undefined) {
    throw fail(text === "" ? "it is empty" : `it has no scheme (for a SQLite file write "sqlite:${text}")`);
  }
  const rest = text.slice(scheme.length + 1);
  switch (scheme) {
    case "memory":
      if (rest !== "") throw fail(`"memory:" takes nothing after the colon`);
      return { kind: "memory" };
    case "sqlite":
      if (rest === "") throw fail(`there is no file path after "sqlite:"`);
      if (rest.startsWith("//")) {
        throw fail(`"sqlite://" is ambiguous: write "sqlite:/absolute/path.db" or "sqlite:./relative/path.db"`);
      }
      if (rest === ":memory:" || rest.startsWith("file:")) {
        throw fail(`the path is taken literally; for a datastore in memory write "memory:"`);
      }
      return { kind: "sqlite", path: isAbsolute(rest) ? resolve(rest) : resolve(cwd, rest) };
    case "redis":
    case "rediss":
      return { kind: "redis", ...parseRedisUrl(text, scheme === "rediss", fail) };
    default:
      throw fail(`unknown scheme "${scheme}:"`);
  }
}

/**
 * A datastore URL as messages may show it: a `redis:` or `rediss:` URL with
 * its password as `***`; any other text unchanged.
 */
export function redactDatastoreUrl(url: string): string {
  return /^\s*rediss?:/i.test(url) ? redactUrl(url.trim()) : url;
}

/** The URL without its password (`***` instead), for messages; `(unreadable URL)` when it does not parse. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== "") parsed.password = "***";
    return parsed.toString();
  } catch {
    return "(unreadable URL)";
  }
}

function parseRedisUrl(text: string, tls: boolean, fail: (reason: string) => ConfigError): RedisLocation {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw fail(`it is not a valid URL (write "redis://host:6379" or "redis://:password@host:6379/0")`);
  }
  if (url.hostname === "") throw fail(`there is no host after "${url.protocol}//"`);
  const port = url.port === "" ? 6379 : Number(url.port);
  const path = url.pathname === "" || url.pathname === "/" ? "0" : url.pathname.slice(1);
  if (!/^\d{1,5}$/.test(path)) {
    throw fail(`the path names the database and must be a number such as "/0", got "${url.pathname}"`);
  }
  let prefix = DEFAULT_REDIS_DATASTORE_PREFIX;
  for (const [name, value] of url.searchParams) {
    if (name !== "prefix") throw fail(`unknown query parameter "${name}" (the only one is "prefix")`);
    if (!REDIS_PREFIX_PATTERN.test(value)) {
      throw fail(`the key prefix "${value}" must be 1 to 128 letters, digits, "_", "-", "." or ":"`);
    }
    prefix = value;
  }
  if (url.hash !== "") throw fail(`a Redis URL has no "#" part`);
  const decode = (part: string): string | undefined => {
    if (part === "") return undefined;
    try {
      return decodeURIComponent(part);
    } catch {
      throw fail("the user name or password has a bad percent-escape");
    }
  };
  const username = decode(url.username);
  const password = decode(url.password);
  return {
    host: url.hostname.replace(/^\[(.*)\]$/, "$1"),
    port,
    db: Number(path),
    tls,
    ...(username === undefined ? {} : { username }),
    ...(password === undefined ? {} : { password }),
    prefix,
    display: redactUrl(text),
  };
}
