/**
 * Datastore URLs: `memory:` for the embedded store, `sqlite:PATH` for a
 * SQLite file. The path is taken literally (no percent-decoding, no query);
 * a relative path is resolved against the given directory.
 */
import { isAbsolute, resolve } from "node:path";
import { ConfigError } from "../errors/index.js";

/** Where a datastore lives, as a parsed URL says. */
export type DatastoreLocation = { readonly kind: "memory" } | { readonly kind: "sqlite"; readonly path: string };

/** The accepted URL forms, for messages and help. */
export const DATASTORE_URL_FORMS = `"memory:", "sqlite:./relative/path.db" or "sqlite:/absolute/path.db"`;

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
  const fail = (reason: string): ConfigError =>
    new ConfigError({ source, value: url, reason, expected: DATASTORE_URL_FORMS });
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
      throw fail(`the scheme "${scheme}:" is not supported yet`);
    default:
      throw fail(`unknown scheme "${scheme}:"`);
  }
}
