import { readFile } from "node:fs/promises";
import { basename, dirname, resolve } from "node:path";
import { ConfigError, isLimitExceeded, isScriptError, type WardenError } from "../errors/index.js";
import { formatSize } from "../units/index.js";
import { definitionOf, LIMIT_DEFINITIONS, resolveLimits, type LimitInputs, type LimitKey } from "../limits/index.js";
import { createEngine, ENGINE_NAMES, type Usage } from "../engine/index.js";
import { Runtime, checkAllowFetch, directoryModules } from "../runtime/index.js";
import { createDatastore, redactDatastoreUrl, type Datastore } from "../datastore/index.js";
import { EXIT, type CliIO } from "./io.js";

/** Options of `warden run`. */
export interface RunCommandOptions {
  /** Engine name as given (`v8` or `quickjs`); checked here. */
  engine: string;
  /** `--input`: JSON text, or `@FILE`. */
  input: string | undefined;
  /** `--json`: print `{ok, value | error, usage}`. */
  json: boolean;
  /** `--filename`: the name shown in errors and used for the `.ts` rule, instead of the file's own name. */
  filename?: string | undefined;
  /** `--allow-fetch`: origins the guest's fetch() may reach, comma-separated, or `*`. */
  allowFetch?: string | undefined;
  /** `--datastore`: the URL of the datastore behind the guest's `datastore(name)`. */
  datastore?: string | undefined;
  /** Resolver inputs from the limit flags. */
  limits: LimitInputs;
}

/** The file argument that makes `warden run` read the script from standard input. */
export const STDIN_ARGUMENT = "-";

/** The name a script read from standard input gets when `--filename` is not given (as `node -` calls it). */
export const STDIN_FILENAME = "[stdin]";

const FILENAME_EXPECTED = "a file name such as job.ts or src/job.js: not empty, no line breaks or control characters";

/** Checks a `--filename` value: it is shown in stack traces, so it must be one printable line. */
function checkFilename(name: string): string {
  const reason =
    name.trim() === "" ? "the name is empty" : /\p{Cc}/u.test(name) ? "the name holds a control character" : undefined;
  if (reason)
    throw new ConfigError({ source: "the flag --filename", value: name, expected: FILENAME_EXPECTED, reason });
  return name;
}

/** Reads the guest's source from a file, or from standard input for `-`, with the name it is shown under. */
async function readSource(
  file: string,
  filename: string | undefined,
  io: CliIO,
): Promise<{ source: string; filename: string }> {
  if (file === STDIN_ARGUMENT) {
    let source: string;
    try {
      source = await io.readStdin();
    } catch (error) {
      throw new ConfigError({
        source: "standard input (warden run -)",
        expected: "a script or module piped in, such as: echo '1 + 1' | warden run -",
        reason: `it could not be read: ${(error as Error).message}`,
      });
    }
    if (source.trim() === "") {
      throw new ConfigError({
        source: "standard input (warden run -)",
        expected: "a script or module piped in, such as: echo '1 + 1' | warden run -",
        reason: `nothing to run: it was empty${source === "" ? "" : " (only white space)"}`,
      });
    }
    return { source, filename: filename ?? STDIN_FILENAME };
  }
  const path = resolve(io.cwd, file);
  try {
    return { source: await readFile(path, "utf8"), filename: filename ?? basename(path) };
  } catch (error) {
    throw new ConfigError({
      source: "the command line",
      value: file,
      expected: "the path of a readable script or module, or - to read it from standard input",
      reason: (error as Error).message,
    });
  }
}

async function readInput(raw: string | undefined, io: CliIO): Promise<unknown> {
  if (raw === undefined) return undefined;
  let text = raw;
  let source = "the flag --input";
  if (raw.startsWith("@")) {
    const path = resolve(io.cwd, raw.slice(1));
    source = `the file ${path} (from --input)`;
    try {
      text = await readFile(path, "utf8");
    } catch (error) {
      throw new ConfigError({
        source: "the flag --input",
        value: raw,
        expected: "JSON text or @FILE naming a readable JSON file",
        reason: (error as Error).message,
      });
    }
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ConfigError({
      source,
      value: raw.startsWith("@") ? raw : text,
      expected: "JSON text such as '{\"n\": 10}' or @FILE",
      reason: (error as Error).message,
    });
  }
}

const KIND_TO_KEY: Record<string, LimitKey> = Object.fromEntries(
  LIMIT_DEFINITIONS.filter((d) => d.kind !== undefined).map((d) => [d.kind as string, d.key]),
);

/** A limit error as one line naming the limit, its value and how to raise it (and a hint line when there is one). */
export function describeLimit(error: WardenError & { kind: string; limit: number; hint?: string | undefined }): string {
  const key = KIND_TO_KEY[error.kind];
  const def = key ? definitionOf(key) : undefined;
  const value =
    def?.unit === "bytes" ? formatSize(error.limit) : def?.unit === "ms" ? `${error.limit}ms` : String(error.limit);
  const setting = def ? ` [limit ${def.key} = ${value}; raise it with ${def.flag} or ${def.env}]` : "";
  return `warden: limit exceeded: ${error.message}${setting}${error.hint ? `\nhint: ${error.hint}` : ""}\n`;
}

function usageLine(usage: Usage): string {
  return `wall ${usage.wallMs.toFixed(1)}ms, cpu ${usage.cpuMs.toFixed(1)}ms, ${usage.instructions} instructions, peak memory ${formatSize(usage.peakMemoryBytes)}`;
}

/** Opens `--datastore URL`; a bad URL is a usage error naming the flag. */
async function openDatastore(url: string, maxDatastoreBytes: number, cwd: string): Promise<Datastore> {
  try {
    return await createDatastore(url, { maxDatastoreBytes, cwd });
  } catch (error) {
    throw new ConfigError({
      source: "the flag --datastore",
      value: redactDatastoreUrl(url),
      expected: "memory:, sqlite:PATH (such as sqlite:./data.db) or redis://HOST:PORT",
      reason: (error as Error).message,
      cause: error,
    });
  }
}

/**
 * `warden run <file>`: runs one script or module and prints its result as JSON.
 * `file` may be `-` to read the source from standard input (shown as
 * {@link STDIN_FILENAME} unless `options.filename` names it).
 */
export async function runCommand(file: string, options: RunCommandOptions, io: CliIO): Promise<number> {
  if (!(ENGINE_NAMES as readonly string[]).includes(options.engine)) {
    throw new ConfigError({
      source: "the flag --engine",
      value: options.engine,
      expected: `one of ${ENGINE_NAMES.join(", ")}`,
    });
  }
  const limits = resolveLimits(options.limits);
  const filename = options.filename === undefined ? undefined : checkFilename(options.filename);
  const input = await readInput(options.input, io);
  const { source, filename: shownAs } = await readSource(file, filename, io);
  const allowFetch =
    options.allowFetch === undefined
      ? []
      : checkAllowFetch(
          options.allowFetch.split(",").map((origin) => origin.trim()),
          "the flag --allow-fetch",
        );
  const datastore =
    options.datastore === undefined
      ? undefined
      : await openDatastore(options.datastore, limits.values.maxDatastoreBytes, io.cwd);
  const owned = datastore ? [datastore] : [];
  let engine;
  try {
    engine = await createEngine(options.engine, { poolSize: 1 });
  } catch (error) {
    await datastore?.close();
    throw error;
  }
  // spawn(path): modules of the script's own directory (the working directory for standard input).
  const directory = file === STDIN_ARGUMENT ? io.cwd : dirname(resolve(io.cwd, file));
  const runtime = new Runtime(
    engine,
    limits,
    { datastore: datastore ? { store: datastore, namespaces: "*" } : undefined, allowFetch },
    owned,
    directoryModules(directory),
  );
  runtime.on("warning", (w) => io.err(`warden: warning: ${w.message}\n`));
  try {
    const result = await runtime.run(source, {
      filename: shownAs,
      input,
      onConsole: (_level, text) => io.err(`${text}\n`),
    });
    if (options.json) {
      io.out(
        JSON.stringify(
          result.ok
            ? { ok: true, value: result.value, usage: result.usage }
            : { ok: false, error: result.error.toJSON(), usage: result.usage },
        ) + "\n",
      );
    } else if (result.ok && result.value !== undefined) {
      io.out(`${JSON.stringify(result.value, null, 2)}\n`);
    }
    if (result.ok) return EXIT.ok;
    const error = result.error;
    if (isLimitExceeded(error)) {
      io.err(describeLimit(error));
      io.err(`warden: used ${usageLine(result.usage)}\n`);
      return EXIT.limit;
    }
    if (isScriptError(error)) {
      io.err(`${error.guestStack || `${error.guestName}: ${error.guestMessage}`}\n`);
      return EXIT.scriptError;
    }
    io.err(`warden: ${error.message}\n`);
    return EXIT.internal;
  } finally {
    await runtime.close();
  }
}
