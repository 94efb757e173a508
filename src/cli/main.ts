import { Command, CommanderError } from "commander";
import { isWardenError, isConfigError } from "../errors/index.js";
import { VERSION } from "../version.js";
import { addLimitFlags, limitInputsFrom } from "./limit-flags.js";
import { limitsCommand } from "./limits-command.js";
import { replCommand } from "./repl-command.js";
import { runCommand, STDIN_FILENAME } from "./run-command.js";
import { addServeCommand } from "./serve-command.js";
import { EXIT, processIO, type CliIO } from "./io.js";

function program(io: CliIO, setExit: (code: number) => void): Command {
  const root = new Command("warden")
    .description("Run untrusted JavaScript/TypeScript under hard resource limits.")
    .version(VERSION, "-v, --version")
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .showHelpAfterError("(run warden --help for usage)")
    .addHelpText(
      "after",
      "\nExit codes: 0 ok, 1 script error, 2 usage or config error, 3 limit exceeded.\n" +
        "Units: durations 50ms, 2s, 5min (bare number = ms); sizes 128MB (10^6), 64MiB (2^20), 1GiB (bare number = bytes).\n" +
        "0 or -1 disables a limit. Precedence: defaults < profile < config file < environment < flags.",
    );

  addLimitFlags(
    root
      .command("limits")
      .description("print the effective limits with value, unit and where each came from")
      .option("--json", "print one JSON object keyed by limit key"),
  ).action((options: Record<string, unknown>) => {
    setExit(limitsCommand(limitInputsFrom(options, io), options["json"] === true, io));
  });

  addLimitFlags(
    root
      .command("run")
      .description("run a script or ES module (.js, .mjs, .ts) under the limits and print its result as JSON")
      .argument("<file>", "the script or module to run; - reads it from standard input")
      .option("--engine <name>", "sandbox engine: v8 or quickjs", "v8")
      .option("--input <json|@file>", "input value: JSON text, or @FILE to read JSON from a file")
      .option("--json", "print {ok, value | error, usage} as one JSON object")
      .option(
        "--filename <name>",
        `name shown in errors and stack traces; a .ts name strips types (default: the file's name, ${STDIN_FILENAME} for -)`,
      )
      .option(
        "--allow-fetch <origins>",
        "origins the guest's fetch() may reach, comma-separated (https://api.example.com), or * (default: fetch is off)",
      )
      .option(
        "--datastore <url>",
        "datastore behind the guest's datastore(name): memory:, sqlite:PATH or redis://HOST:PORT (default: none)",
      )
      .addHelpText(
        "after",
        "\nA script's result is its last expression's value; a module's is its default export called with the input.\n" +
          "Script or module is told by content (import/export), for files and standard input alike.\n" +
          "spawn(path, input) runs another module of the script's own directory (./task.js) in a sandbox of its own.\n" +
          "The guest's console output goes to stderr. Exit codes: 0 ok, 1 script error, 2 usage or config error, 3 limit exceeded.",
      ),
  ).action(async (file: string, options: Record<string, unknown>) => {
    setExit(
      await runCommand(
        file,
        {
          engine: String(options["engine"]),
          input: typeof options["input"] === "string" ? options["input"] : undefined,
          json: options["json"] === true,
          filename: typeof options["filename"] === "string" ? options["filename"] : undefined,
          datastore: typeof options["datastore"] === "string" ? options["datastore"] : undefined,
          allowFetch: typeof options["allowFetch"] === "string" ? options["allowFetch"] : undefined,
          limits: limitInputsFrom(options, io),
        },
        io,
      ),
    );
  });

  addLimitFlags(
    root
      .command("repl")
      .description("read-eval-print loop: each input runs in one warm sandbox under the limits; state persists")
      .option("--engine <name>", "sandbox engine: v8 or quickjs", "v8")
      .addHelpText(
        "after",
        "\nA limit error or Ctrl+C while an input runs recycles the sandbox: the state is reset.\n" +
          "Commands: .help .limits .reset .break .exit; Ctrl+C twice at an empty prompt or Ctrl+D exits.\n" +
          "History: ~/.warden_repl_history (WARDEN_REPL_HISTORY relocates it; empty: none).",
      ),
  ).action(async (options: Record<string, unknown>) => {
    setExit(await replCommand({ engine: String(options["engine"]), limits: limitInputsFrom(options, io) }, io));
  });

  addServeCommand(root, io, setExit);

  return root;
}

/**
 * Runs the CLI with `argv` (without `node` and the script path) and returns the
 * exit code: the command's own, or 70 when standard output could not be
 * written (a closed pipe does not count: that output is dropped quietly).
 */
export async function main(argv: readonly string[], io: CliIO = processIO()): Promise<number> {
  const code = await runArgv(argv, io);
  return io.outputFailed?.() ? EXIT.internal : code;
}

async function runArgv(argv: readonly string[], io: CliIO): Promise<number> {
  let exit: number = EXIT.ok;
  const root = program(io, (code) => (exit = code));
  for (const command of root.commands) command.exitOverride().configureOutput({ writeOut: io.out, writeErr: io.err });
  try {
    await root.parseAsync([...argv], { from: "user" });
    return exit;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end here with exit code 0; usage errors are already printed.
      return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    if (isConfigError(error)) {
      io.err(`warden: ${error.message}\n`);
      return EXIT.usage;
    }
    if (isWardenError(error)) {
      io.err(`warden: ${error.message}\n`);
      return EXIT.internal;
    }
    io.err(`warden: internal error: ${(error as Error)?.stack ?? String(error)}\n`);
    return EXIT.internal;
  }
}
