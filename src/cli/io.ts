/** Where a command writes and what it reads; swapped in tests. */
export interface CliIO {
  /** Writes to standard output. */
  out(text: string): void;
  /** Writes to standard error. */
  err(text: string): void;
  /** Environment variables. */
  env: Readonly<Record<string, string | undefined>>;
  /** Working directory (config file lookup, relative paths). */
  cwd: string;
}

/** The real process streams. */
export function processIO(): CliIO {
  return {
    out: (text) => void process.stdout.write(text),
    err: (text) => void process.stderr.write(text),
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
