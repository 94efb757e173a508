import { readFileSync, existsSync } from "node:fs";
import { resolve } from "node:path";
import { parse as parseJsonc, printParseErrorCode, type ParseError } from "jsonc-parser";
import { ConfigError } from "../errors/index.js";

/** Name of the config file looked up in the working directory. */
export const CONFIG_FILE_NAME = "warden.config.json";

/** Top-level keys a config file may hold. Sections of later features register here. */
const KNOWN_SECTIONS = new Set(["$schema", "profile", "limits", "bulkhead", "serve"]);

/** A config file, read and checked for shape (values are validated by their consumers). */
export interface ConfigFile {
  /** Absolute path of the file. */
  readonly path: string;
  /** The `profile` key, if present. */
  readonly profile?: unknown;
  /** The `limits` object, if present. */
  readonly limits?: Readonly<Record<string, unknown>>;
  /** The whole parsed document, for sections owned by other modules. */
  readonly document: Readonly<Record<string, unknown>>;
}

function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset).split("\n");
  return { line: before.length, column: (before.at(-1)?.length ?? 0) + 1 };
}

function parseStrictJson(text: string, path: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    // JSON.parse does not always say where; a real JSON parser does.
    const errors: ParseError[] = [];
    parseJsonc(text, errors, { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false });
    const first = errors[0];
    const offset = first?.offset ?? text.length;
    const { line, column } = lineAndColumn(text, offset);
    const what = first ? printParseErrorCode(first.error) : "InvalidJSON";
    throw new ConfigError({
      source: `the file ${path}`,
      expected: 'valid JSON such as {"profile": "strict", "limits": {"timeoutMs": "2s"}}',
      reason: `not valid JSON at line ${line}, column ${column} (position ${offset}): ${what}`,
    });
  }
}

/**
 * Reads a config file. With `explicitPath` the file must exist; otherwise
 * `warden.config.json` in `cwd` is used when present and `undefined` returned
 * when absent.
 */
export function readConfigFile(options: {
  explicitPath?: string;
  explicitSource?: string;
  cwd?: string;
}): ConfigFile | undefined {
  const cwd = options.cwd ?? process.cwd();
  const path = options.explicitPath !== undefined ? resolve(cwd, options.explicitPath) : resolve(cwd, CONFIG_FILE_NAME);
  if (options.explicitPath === undefined && !existsSync(path)) return undefined;
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new ConfigError({
      source: options.explicitSource ?? `the file ${path}`,
      value: options.explicitPath ?? path,
      expected: "the path of a readable JSON config file",
      reason: (error as NodeJS.ErrnoException).code === "ENOENT" ? `no such file ${path}` : (error as Error).message,
      cause: error,
    });
  }
  const document = parseStrictJson(text, path);
  if (typeof document !== "object" || document === null || Array.isArray(document)) {
    throw new ConfigError({
      source: `the file ${path}`,
      expected: 'a JSON object with "profile" and "limits" keys',
      reason: "the top level is not an object",
    });
  }
  const record = document as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (!KNOWN_SECTIONS.has(key)) {
      throw new ConfigError({
        source: `the file ${path}`,
        value: key,
        reason: `unknown top-level key ${JSON.stringify(key)}`,
        expected: `one of ${[...KNOWN_SECTIONS].join(", ")}`,
      });
    }
  }
  const limits = record["limits"];
  if (limits !== undefined && (typeof limits !== "object" || limits === null || Array.isArray(limits))) {
    throw new ConfigError({
      source: `the file ${path} key limits`,
      value: limits,
      expected: 'an object of limit keys, such as {"timeoutMs": "2s"}',
    });
  }
  return {
    path,
    document: record,
    ...("profile" in record ? { profile: record["profile"] } : {}),
    ...(limits !== undefined ? { limits: limits as Record<string, unknown> } : {}),
  };
}
