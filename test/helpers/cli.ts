import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

/** Absolute path of the `warden` executable under test. */
export const WARDEN_BIN = resolve(import.meta.dirname, "../../bin/warden.js");

/** What a CLI run printed and how it exited. */
export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** This process's environment without any WARDEN_* variable, plus `extra`: what a CLI child under test gets. */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !key.startsWith("WARDEN_")) env[key] = value;
  }
  return { ...env, ...extra };
}

/** Runs the real `warden` executable in a child process with a clean WARDEN_* environment. */
export function runCli(
  args: string[],
  options: { env?: Record<string, string>; cwd?: string; input?: string } = {},
): CliResult {
  const result = spawnSync(process.execPath, [WARDEN_BIN, ...args], {
    cwd: options.cwd ?? tempDir(),
    env: cleanEnv(options.env),
    encoding: "utf8",
    timeout: 60_000,
    ...(options.input !== undefined ? { input: options.input } : {}),
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** A new empty temporary directory. */
export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "warden-test-"));
}

/** Writes files into a new temporary directory and returns it. */
export function dirWith(files: Record<string, string>): string {
  const dir = tempDir();
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  return dir;
}
