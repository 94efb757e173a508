/** Where a command writes and what it reads; swapped in tests. */
export interface CliIO {
  /** Writes to standard output. */
  out(text: string): void;
  /** Writes to standard error. */
  err(text: string): void;
  /** Reads standard input to its end as UTF-8 text (`warden run -`). */
  readStdin(): Promise<string>;
  /** True once standard output failed for a reason other than a closed pipe (the command then exits 70). */
  outputFailed?(): boolean;
  /** Environment variables. */
  env: Readonly<Record<string, string | undefined>>;
  /** Working directory (config file lookup, relative paths). */
  cwd: string;
}

/**
 * True for the errors a write raises once the reader of a pipe has gone away
 * (`warden ... | head -1`): nobody is left to read, so there is nothing to report.
 */
export function isClosedPipeError(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | null | undefined)?.code;
  return code === "EPIPE" || code === "ECONNRESET" || code === "ERR_STREAM_DESTROYED";
}

type Write = (text: string) => void;
const writers = new WeakMap<NodeJS.WritableStream, Write>();
let stdoutFailed = false;

/**
 * A writer for a process stream that never crashes the process: once the
 * stream fails further output is dropped. A closed pipe is silent and the
 * command finishes with its own exit code; any other failure of standard
 * output (a full disk, say) is reported once on standard error and the exit
 * code becomes 70, since the result was lost.
 */
function safeWriter(stream: NodeJS.WriteStream, name: "output" | "error"): Write {
  const known = writers.get(stream);
  if (known) return known;
  let open = true;
  stream.on("error", (error: Error) => {
    if (!open) return;
    open = false;
    if (!isClosedPipeError(error) && name === "output") {
      stdoutFailed = true;
      // The command may have returned its code already; this one wins either way (see main()).
      process.exitCode = EXIT.internal;
      safeWriter(process.stderr, "error")(`warden: cannot write to standard output: ${error.message}\n`);
    }
  });
  const write: Write = (text) => {
    if (open && !stream.destroyed) stream.write(text);
  };
  writers.set(stream, write);
  return write;
}

async function readAll(stream: NodeJS.ReadStream): Promise<string> {
  stream.setEncoding("utf8");
  let text = "";
  for await (const chunk of stream) text += chunk as string;
  return text;
}

/** The real process streams; writes to a closed pipe are dropped quietly. */
export function processIO(): CliIO {
  return {
    out: safeWriter(process.stdout, "output"),
    err: safeWriter(process.stderr, "error"),
    readStdin: () => readAll(process.stdin),
    outputFailed: () => stdoutFailed,
    env: process.env,
    cwd: process.cwd(),
  };
}

/** Exit codes of every command. */
export const EXIT = {
  ok: 0,
  scriptError: 1,
  usage: 2,
  limit: 3,
  internal: 70,
} as const;
