import { readFileSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { createInterface, type Interface } from "node:readline";
import { inspect } from "node:util";
import { ConfigError, isAbortedError, isLimitExceeded, isScriptError } from "../errors/index.js";
import { createEngine, ENGINE_NAMES } from "../engine/index.js";
import { resolveLimits, type LimitInputs, type ResolvedLimits } from "../limits/index.js";
import { Runtime, type LoadedApp } from "../runtime/index.js";
import { VERSION } from "../version.js";
import { EXIT, type CliIO } from "./io.js";
import { limitsTable } from "./limits-command.js";
import { decodeValue, prepareInput, REPL_GUEST_SOURCE, thrownBy } from "./repl-eval.js";
import { describeLimit } from "./run-command.js";

/** Options of `warden repl`. */
export interface ReplCommandOptions {
  /** Engine name as given (`v8` or `quickjs`); checked here. */
  engine: string;
  /** Resolver inputs from the limit flags. */
  limits: LimitInputs;
}

/** Where the REPL reads and writes: the process's own streams unless a test swaps them. */
export interface ReplStreams {
  input: NodeJS.ReadableStream & { isTTY?: boolean };
  output: NodeJS.WritableStream & { isTTY?: boolean; hasColors?: () => boolean };
}

/** How many entries the history file keeps (newest first, as node's REPL writes it). */
export const HISTORY_SIZE = 1000;

/** The history file: `WARDEN_REPL_HISTORY` when set (empty: no history file), else `~/.warden_repl_history`. */
export function historyPath(env: Readonly<Record<string, string | undefined>>): string | undefined {
  const configured = env["WARDEN_REPL_HISTORY"];
  if (configured !== undefined) return configured.trim() === "" ? undefined : configured;
  return join(homedir(), ".warden_repl_history");
}

function readHistory(path: string | undefined): string[] {
  if (!path) return [];
  try {
    return readFileSync(path, "utf8")
      .split("\n")
      .filter((line) => line.trim() !== "")
      .slice(0, HISTORY_SIZE);
  } catch {
    return [];
  }
}

const HELP = [
  [".break", "Leave a multi-line input (Ctrl+C does too)"],
  [".exit", "Exit the REPL (Ctrl+D, or Ctrl+C twice at an empty prompt)"],
  [".help", "Print this help message"],
  [".limits", "Print the effective limits every input runs under"],
  [".reset", "Start over in a fresh sandbox: every definition is gone"],
];

const STATE_RESET = "(the sandbox was recycled: the REPL's state is reset, earlier definitions are gone)\n";

/**
 * `warden repl`: reads JavaScript a line at a time and runs each input in one
 * warm sandbox under the limits (see docs/repl.md). Returns the exit code.
 */
export async function replCommand(
  options: ReplCommandOptions,
  io: CliIO,
  streams: ReplStreams = { input: process.stdin, output: process.stdout },
): Promise<number> {
  if (!(ENGINE_NAMES as readonly string[]).includes(options.engine)) {
    throw new ConfigError({
      source: "the flag --engine",
      value: options.engine,
      expected: `one of ${ENGINE_NAMES.join(", ")}`,
    });
  }
  const limits: ResolvedLimits = resolveLimits(options.limits);
  const engine = await createEngine(options.engine, { poolSize: 1 });
  const runtime = new Runtime(engine, limits, { allowFetch: [] });
  try {
    const load = () => runtime.load(REPL_GUEST_SOURCE, { filename: "repl", instances: 1 });
    let app: LoadedApp = await load();
    const terminal = streams.input.isTTY === true && streams.output.isTTY === true;
    const colors = terminal && (streams.output.hasColors?.() ?? false);
    const write = (text: string) => io.out(text);
    const historyFile = historyPath(io.env);

    write(
      `Welcome to warden ${VERSION} (engine ${options.engine}). Every input runs in one sandbox under the limits.\n` +
        `Type ".help" for more information.\n`,
    );
    const rl: Interface = createInterface({
      input: streams.input,
      output: streams.output,
      prompt: "> ",
      terminal,
      history: readHistory(historyFile),
      historySize: HISTORY_SIZE,
      removeHistoryDuplicates: true,
    });
    let historyFailed = false;
    rl.on("history", (history: string[]) => {
      if (!historyFile || historyFailed) return;
      try {
        writeFileSync(historyFile, history.slice(0, HISTORY_SIZE).join("\n") + "\n", { mode: 0o600 });
      } catch (error) {
        historyFailed = true;
        io.err(`warden: the REPL history cannot be saved to ${historyFile}: ${(error as Error).message}\n`);
      }
    });

    let buffer: string[] = [];
    let running: AbortController | undefined;
    let sawSigint = false;
    let closed = false;
    let chain: Promise<void> = Promise.resolve();

    const prompt = () => {
      if (closed) return;
      rl.setPrompt(buffer.length > 0 ? "... " : "> ");
      rl.prompt();
    };

    const evaluate = async (code: string, controller: AbortController): Promise<void> => {
      if (controller.signal.aborted) {
        write("Aborted (Ctrl+C) before it ran.\n");
        return;
      }
      running = controller;
      let result;
      try {
        result = await app.call(code, {
          signal: controller.signal,
          onConsole: (_level, text) => write(`${text}\n`),
        });
      } finally {
        running = undefined;
      }
      const threw = result.ok ? thrownBy(result.value) : undefined;
      if (threw) {
        write(`Uncaught ${inspect(threw.thrown, { colors })}\n`);
        return;
      }
      if (result.ok) {
        write(`${inspect(decodeValue(result.value), { colors })}\n`);
        return;
      }
      const error = result.error;
      if (isScriptError(error)) {
        write(`Uncaught ${error.guestName ? `${error.guestName}: ` : ""}${error.guestMessage}\n`);
      } else if (isLimitExceeded(error)) {
        write(describeLimit(error) + STATE_RESET);
      } else if (isAbortedError(error)) {
        write(`Aborted: the input was stopped (Ctrl+C).\n${STATE_RESET}`);
      } else {
        write(`warden: ${(error as Error).message}\n${STATE_RESET}`);
      }
    };

    const command = async (name: string): Promise<boolean> => {
      switch (name) {
        case ".exit":
          rl.close();
          return true;
        case ".break":
          buffer = [];
          return true;
        case ".help":
          write(HELP.map(([cmd, text]) => `${cmd!.padEnd(8)}  ${text}`).join("\n") + "\n\n");
          write("Press Ctrl+C to abort a running input, Ctrl+D to exit.\n");
          return true;
        case ".limits":
          write(limitsTable(limits));
          return true;
        case ".reset":
          await app.close();
          app = await load();
          write("The sandbox is fresh: every definition is gone.\n");
          return true;
        default:
          return false;
      }
    };

    const handle = async (line: string, controller: AbortController): Promise<void> => {
      const trimmed = line.trim();
      if (/^\.[a-z]+$/.test(trimmed) && (buffer.length === 0 || trimmed === ".break" || trimmed === ".exit")) {
        if (!(await command(trimmed))) write(`Invalid REPL keyword ${trimmed} (.help lists them)\n`);
        prompt();
        return;
      }
      buffer.push(line);
      const text = buffer.join("\n");
      if (text.trim() === "") {
        buffer = [];
        prompt();
        return;
      }
      const prepared = prepareInput(text);
      if (prepared.kind === "incomplete") {
        prompt();
        return;
      }
      buffer = [];
      await evaluate(prepared.code, controller);
      prompt();
    };

    // Inputs run one after another; lines typed meanwhile wait their turn, and Ctrl+C gives up
    // the running input and every waiting one.
    const waiting = new Set<AbortController>();
    rl.on("line", (line) => {
      sawSigint = false;
      const controller = new AbortController();
      waiting.add(controller);
      chain = chain
        .then(() => handle(line, controller))
        .catch((error: unknown) => {
          write(`warden: ${(error as Error).message}\n`);
          prompt();
        })
        .finally(() => waiting.delete(controller));
    });

    const onSigint = () => {
      if (running || waiting.size > 0) {
        for (const controller of waiting) controller.abort();
        running?.abort();
        return;
      }
      const empty = rl.line.length === 0 && buffer.length === 0;
      if (rl.line.length > 0) {
        rl.write(null, { ctrl: true, name: "e" });
        rl.write(null, { ctrl: true, name: "u" });
      }
      buffer = [];
      if (empty) {
        if (sawSigint) {
          rl.close();
          return;
        }
        write("\n(To exit, press Ctrl+C again or Ctrl+D or type .exit)\n");
        sawSigint = true;
      } else {
        write("\n");
        sawSigint = false;
      }
      prompt();
    };
    rl.on("SIGINT", onSigint);
    // Without a terminal, Ctrl+C reaches the process as a signal.
    const onProcessSigint = () => onSigint();
    if (!terminal) process.on("SIGINT", onProcessSigint);

    prompt();
    await new Promise<void>((resolve) => rl.once("close", resolve));
    closed = true;
    if (terminal) write("\n");
    await chain;
    process.off("SIGINT", onProcessSigint);
    return EXIT.ok;
  } finally {
    await runtime.close();
  }
}
